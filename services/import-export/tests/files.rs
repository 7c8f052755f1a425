//! What a file is: its encoding (a byte-order mark, UTF-8, or the Baltic and Cyrillic code pages
//! Excel writes), its delimiter, and files that are not client lists at all, refused with a reason
//! and changing nothing.
mod support;

use loyalty_api::importexport::v1 as pb;
use support::*;
use tonic::Code;

/// Enough rows for the detector to be sure, as shops' exports are.
fn lithuanian_rows(n: usize) -> String {
    let mut file = "Vardas;Pavardė;El. paštas\n".to_string();
    for i in 0..n {
        file.push_str(&format!("Šarūnė{i};Žemaitė-Čiurlionienė;s{i}@example.lt\n"));
    }
    file
}

#[tokio::test]
async fn baltic_cyrillic_and_bom_files_read_as_their_letters() {
    let app = start().await;
    let mut api = admin(&app);
    let rows = lithuanian_rows(3);
    let (baltic, _, _) = encoding_rs::WINDOWS_1257.encode(&rows);
    let job = import(&mut api, header("lt"), &baltic).await;
    assert_eq!((job.encoding.as_str(), job.rows_imported), ("windows-1257", 3), "{job:?}");
    let (cyrillic, _, _) = encoding_rs::WINDOWS_1251.encode("Имя,Фамилия,Телефон\nАнна,Иванова,+37061200001\n");
    let job = import(&mut api, header("ru"), &cyrillic).await;
    assert_eq!((job.encoding.as_str(), job.delimiter.as_str(), job.rows_imported), ("windows-1251", ",", 1), "{job:?}");
    let bom =
        [&[0xEF, 0xBB, 0xBF][..], "Vardas\tPavardė\tEl. paštas\nJūratė\tBomienė\tj@example.lt\n".as_bytes()].concat();
    let job = import(&mut api, header("bom"), &bom).await;
    assert_eq!((job.encoding.as_str(), job.delimiter.as_str(), job.rows_imported), ("utf-8", "\t", 1), "{job:?}");

    let names: Vec<String> = people(&mut client_api(&app)).await.into_iter().map(|(n, _)| n).collect();
    assert!(names.contains(&"Šarūnė0".to_string()) && names.contains(&"Анна".to_string()), "{names:?}");
    assert!(names.contains(&"Jūratė".to_string()), "the byte-order mark is not part of the first header");

    // The uploader may name the encoding: a UTF-8 file read as windows-1257 shows why it is wrong.
    let (polish, _, _) = encoding_rs::WINDOWS_1257.encode("Imię,Nazwisko,E-mail\nŁucja,Wąs,l@example.pl\n");
    let named = pb::ImportHeader { encoding: "windows-1257".into(), ..header("pl") };
    let job = import(&mut api, named, &polish).await;
    assert_eq!((job.encoding.as_str(), job.rows_imported), ("windows-1257", 1), "{job:?}");
    let wrong = pb::ImportHeader { encoding: "utf-8".into(), ..header("wrong") };
    let job = import(&mut api, wrong, &baltic).await;
    assert_eq!(job.state(), pb::JobState::Failed);
    assert!(job.error.contains("not UTF-8 text: name the file's encoding"), "{:?}", job.error);
    // Beyond the header, a cell that is not text is its row's error.
    let (tail, _, _) = encoding_rs::WINDOWS_1257.encode("Šarūnė;Ž;z@example.lt\n");
    let mixed = [b"Vardas;Pavarde;Email\nOna;O;o@example.lt\n".as_slice(), &tail].concat();
    let job = import(&mut api, pb::ImportHeader { encoding: "utf-8".into(), ..header("mixed") }, &mixed).await;
    assert_eq!((job.rows_imported, job.rows_failed), (1, 1), "{job:?}");
    let report = &reports(&mut api, &job.id).await[0];
    assert!(report.2[0].1.contains("choose the encoding"), "{report:?}");
}

#[tokio::test]
async fn files_that_are_not_client_lists_fail_with_a_reason_and_change_nothing() {
    let app = start().await;
    let mut api = admin(&app);
    let cases: [(&str, &[u8], &str); 5] = [
        ("zip", b"PK\x03\x04\x14\x00\x00\x00 workbook", "xlsx"),
        ("nul", b"Vardas,Pavard\x00,El", "NUL"),
        ("pdf", b"%PDF-1.7 ...", "PDF"),
        ("columns", "Prekė,Kaina\nPienas,1.20\n".as_bytes(), "no column for first_name, last_name, email or phone"),
        ("header only", b"\n", "no header row"),
    ];
    for (name, file, reason) in cases {
        let job = import(&mut api, header(&name.replace(' ', "-")), file).await;
        assert_eq!(job.state(), pb::JobState::Failed, "{name}: {job:?}");
        assert!(job.error.contains(reason), "{name}: {:?} should say {reason:?}", job.error);
    }
    assert!(people(&mut client_api(&app)).await.is_empty());
}

#[tokio::test]
async fn a_bad_header_is_refused_before_anything_is_stored() {
    let app = start().await;
    let mut api = admin(&app);
    let file = lithuanian_rows(1);
    let refused = |h: pb::ImportHeader| {
        let mut api = api.clone();
        let file = file.clone();
        async move { upload(&mut api, h, file.as_bytes()).await.expect_err("refused") }
    };
    let pdf = pb::ImportHeader { format: pb::FileFormat::Pdf as i32, ..header("x1") };
    assert_eq!(fields(&refused(pdf).await), ["header.format"]);
    let mut mapped = header("x2");
    mapped.column_mapping.insert("Vardas".into(), "shoe_size".into());
    assert_eq!(fields(&refused(mapped).await), ["header.column_mapping[Vardas]"]);
    let odd =
        pb::ImportHeader { delimiter: ";;".into(), encoding: "koi8-r".into(), upload_id: "a b".into(), ..header("") };
    assert_eq!(fields(&refused(odd).await), ["header.upload_id", "header.delimiter", "header.encoding"]);
    let nul = pb::ImportHeader { file_name: "a\0b.csv".into(), ..header("x3") };
    assert_eq!(fields(&refused(nul).await), ["header.file_name"]);
    let unknown = pb::ImportHeader { kind: 99, ..header("x4") };
    assert_eq!(fields(&refused(unknown).await), ["header.kind"]);
    let unnamed = pb::ImportHeader { kind: pb::ImportKind::Unspecified as i32, ..header("x7") };
    assert_eq!(fields(&refused(unnamed).await), ["header.kind"]);
    let empty = upload(&mut api, header("x5"), b"").await.expect_err("empty");
    assert_eq!(fields(&empty), ["chunk"]);
    let chunk_first = futures::stream::iter(messages(header("x6"), file.as_bytes(), 10, 0).into_iter().skip(1));
    assert_eq!(api.start_import(chunk_first).await.expect_err("no header").code(), Code::InvalidArgument);
    let jobs = api.list_jobs(pb::ListJobsRequest::default()).await.expect("jobs").into_inner();
    assert!(jobs.jobs.is_empty(), "no job was started: {jobs:?}");
}

#[tokio::test]
async fn cells_and_rows_over_the_limits_are_refused_rows() {
    let app = start().await;
    let mut api = admin(&app);
    let long_note = "x".repeat(4_001);
    let file = format!(
        "Vardas,Pavardė,El. paštas,Pastabos\nOna,Ilgoji,o@example.lt,{long_note}\nJonas,Trumpas,j@example.lt,ok\n"
    );
    let job = import(&mut api, header("long"), file.as_bytes()).await;
    assert_eq!((job.rows_imported, job.rows_failed), (1, 1), "{job:?}");
    let report = &reports(&mut api, &job.id).await[0];
    assert_eq!(report.2[0], ("Pastabos".to_string(), "is longer than 4000 characters".to_string()));
}
