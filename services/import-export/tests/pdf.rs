//! IE-3 "PDF for print": every letter of the chain's countries shows (pdftotext reads them back),
//! the font is embedded, the header repeats on every page and each page says which it is; an
//! audience too large to print is refused with what to do instead.
mod support;

use loyalty_api::filter::v1::{AllClients, Audience, audience::Source};
use loyalty_api::importexport::v1 as pb;
use support::*;

const NAMES: [(&str, &str); 5] =
    [("Šarūnė", "Žemaitė"), ("Łucja", "Wąs"), ("Ștefan", "Țurcanu"), ("Анна", "Иванова"), ("Jūratė", "Čiurlionienė")];

fn pdftotext(pdf: &[u8], layout: bool) -> String {
    let path = std::env::temp_dir().join(format!("export-{}.pdf", std::process::id()));
    std::fs::write(&path, pdf).expect("written");
    let mut command = std::process::Command::new("pdftotext");
    if layout {
        command.arg("-layout");
    }
    let out = command.arg(&path).arg("-").output().expect("pdftotext runs (.ci/ensure-tools installs poppler-utils)");
    let fonts = std::process::Command::new("pdffonts").arg(&path).output().expect("pdffonts runs");
    let _ = std::fs::remove_file(&path);
    let text = String::from_utf8(out.stdout).expect("text");
    if layout { text } else { String::from_utf8(fonts.stdout).expect("fonts") + &text }
}

#[tokio::test]
async fn a_pdf_shows_every_letter_repeats_its_header_and_numbers_its_pages() {
    let app = start_with_segments().await;
    let mut file = "Vardas;Pavardė;El. paštas;Miestas\n".to_string();
    for i in 0..60 {
        let (first, last) = NAMES[i % NAMES.len()];
        file.push_str(&format!("{first};{last};k{i}@example.lt;Vilnius\n"));
    }
    let job = import(&mut admin(&app), header("pdf"), file.as_bytes()).await;
    assert_eq!(job.rows_imported, 60, "{job:?}");
    segment_counts(&app, 60).await;
    let request = pb::StartExportRequest {
        kind: pb::ExportKind::Clients as i32,
        format: pb::FileFormat::Pdf as i32,
        audience: Some(Audience { source: Some(Source::AllClients(AllClients {})) }),
        columns: ["client.first_name", "client.last_name", "client.email", "client.city"].map(String::from).to_vec(),
        language: "lt".into(),
        ..Default::default()
    };
    let (job, pdf) = export(&mut admin(&app), request.clone()).await;
    assert!(pdf.starts_with(b"%PDF") && job.file_name.ends_with(".pdf"), "{job:?}");
    std::fs::write(std::env::temp_dir().join("import-export-export.pdf"), &pdf).expect("kept for a look");
    let text = pdftotext(&pdf, true);
    for (first, last) in NAMES {
        assert!(text.contains(first) && text.contains(last), "{first} {last} missing from:\n{text}");
    }
    let pages: Vec<&str> = text.split('\u{c}').filter(|p| !p.trim().is_empty()).collect();
    assert_eq!(pages.len(), 2, "60 rows are two pages:\n{text}");
    let lines =
        |page: &str| page.lines().filter(|l| !l.trim().is_empty()).map(|l| l.trim().to_string()).collect::<Vec<_>>();
    for (i, page) in pages.iter().enumerate() {
        let lines = lines(page);
        assert!(lines[0].starts_with("Klientai"), "the title on page {}: {lines:?}", i + 1);
        assert!(!lines[1].contains('@'), "the header row comes before the clients: {lines:?}");
        assert!(
            lines.iter().any(|l| l.replace(' ', "").ends_with(&format!("{}/2", i + 1))),
            "page {} says which it is: {lines:?}",
            i + 1
        );
    }
    assert_eq!(lines(pages[0])[1], lines(pages[1])[1], "the header repeats on every page");
    let fonts = pdftotext(&pdf, false);
    assert!(
        fonts.contains("DejaVuSans") && fonts.lines().any(|l| l.contains("yes yes")),
        "embedded and subset:\n{fonts}"
    );

    // Too many to print (the suite's limit is 60 here): refused, saying what to do.
    let one_more = "Vardas;Pavardė;El. paštas\nPaskutinė;Eilutė;last@example.lt\n";
    import(&mut admin(&app), header("pdf-2"), one_more.as_bytes()).await;
    segment_counts(&app, 61).await;
    let mut api = admin(&app);
    let job = api.start_export(request).await.expect("started").into_inner();
    let job = finished(&mut api, &job.id).await;
    assert_eq!(job.state(), pb::JobState::Failed);
    assert!(job.error.contains("at most 60 clients") && job.error.contains("export XLSX"), "{}", job.error);
}
