//! IE-1 from Excel: an XLSX (its first sheet or a named one) imports like a CSV, its dates as
//! dates and phones typed as numbers as phones; a zip bomb and a file that is no workbook are
//! refused before anything is decompressed, and change nothing.
mod support;

use loyalty_api::client::v1 as clients;
use loyalty_api::importexport::v1 as pb;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
use support::*;

fn xlsx_header(id: &str, sheet: &str) -> pb::ImportHeader {
    pb::ImportHeader {
        format: pb::FileFormat::Xlsx as i32,
        sheet: sheet.into(),
        file_name: "klientai.xlsx".into(),
        ..header(id)
    }
}

fn workbook() -> Vec<u8> {
    let mut book = Workbook::new();
    let notes = book.add_worksheet();
    notes.set_name("Pastabos").expect("name");
    notes.write_string(0, 0, "not the clients").expect("cell");
    let sheet = book.add_worksheet();
    sheet.set_name("Klientai").expect("name");
    for (c, h) in ["Vardas", "Pavardė", "El. paštas", "Telefonas", "Gimimo data"].iter().enumerate() {
        sheet.write_string(0, c as u16, *h).expect("header");
    }
    let date = Format::new().set_num_format("yyyy-mm-dd");
    sheet.write_string(1, 0, "Šarūnė").expect("cell");
    sheet.write_string(1, 1, "Žemaitė").expect("cell");
    sheet.write_string(1, 2, "sarune@example.lt").expect("cell");
    sheet.write_number(1, 3, 37061234567.0).expect("a phone typed as a number");
    let born = ExcelDateTime::from_ymd(1985, 3, 9).expect("date");
    sheet.write_datetime_with_format(1, 4, &born, &date).expect("a real date cell");
    // A blank row, then a bad one.
    sheet.write_string(3, 0, "Jonas").expect("cell");
    sheet.write_string(3, 2, "jonas@example.lt").expect("cell");
    book.save_to_buffer().expect("an xlsx")
}

fn zip_bomb() -> Vec<u8> {
    use std::io::Write;
    let mut out = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut out);
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("xl/workbook.xml", options).expect("entry");
    zip.write_all(b"<workbook/>").expect("write");
    zip.start_file("xl/worksheets/sheet1.xml", options).expect("entry");
    zip.write_all(&vec![b' '; 20 << 20]).expect("twenty megabytes of spaces");
    zip.finish().expect("zip");
    out.into_inner()
}

#[tokio::test]
async fn a_named_sheet_imports_with_its_dates_and_numbers() {
    let app = start().await;
    let mut api = admin(&app);
    let job = import(&mut api, xlsx_header("book", "Klientai"), &workbook()).await;
    assert_eq!(job.state(), pb::JobState::Succeeded, "{job:?}");
    assert_eq!(
        (job.rows_total, job.rows_imported, job.rows_failed, job.encoding.as_str()),
        (2, 1, 1, "xlsx"),
        "{job:?}"
    );
    let report = &reports(&mut api, &job.id).await[0];
    assert_eq!((report.0, report.2[0].0.as_str()), (4, "Pavardė"), "the bad row by its row in the sheet: {report:?}");
    let found = client_api(&app)
        .list_clients(clients::ListClientsRequest { query: "sarune@example.lt".into(), ..Default::default() })
        .await
        .expect("search")
        .into_inner();
    let sarune = &found.clients[0];
    assert_eq!(sarune.phone, "+37061234567", "a phone typed as a number");
    assert_eq!(sarune.birth_date.as_ref().map(|d| (d.year, d.month, d.day)), Some((1985, 3, 9)), "a date cell");

    let first = import(&mut api, xlsx_header("book-first", ""), &workbook()).await;
    assert_eq!(first.state(), pb::JobState::Failed, "the first sheet has no client columns");
    assert!(first.error.contains("no column for"), "{}", first.error);
    let missing = import(&mut api, xlsx_header("book-missing", "Lapas"), &workbook()).await;
    assert!(missing.error.contains("no sheet \"Lapas\"") && missing.error.contains("Klientai"), "{}", missing.error);
}

#[tokio::test]
async fn zip_bombs_and_files_that_are_no_workbook_are_refused() {
    let app = start().await;
    let mut api = admin(&app);
    let bomb = import(&mut api, xlsx_header("bomb", ""), &zip_bomb()).await;
    assert_eq!(bomb.state(), pb::JobState::Failed);
    assert!(bomb.error.contains("zip bomb"), "{}", bomb.error);
    let text = import(&mut api, xlsx_header("text", ""), b"Vardas,Pavarde\nOna,O\n").await;
    assert!(text.error.contains("not an XLSX workbook"), "{}", text.error);
    assert!(people(&mut client_api(&app)).await.is_empty(), "nothing was written");
}
