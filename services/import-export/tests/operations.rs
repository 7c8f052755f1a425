//! IE-5: the loyalty operations of an audience for a period, as CSV, XLSX (read back by
//! LibreOffice) and PDF (read back by pdftotext); anonymised; within the starter's stores; the
//! ledger's right besides `clients.export`; bad requests named.
mod support;

use loyalty_api::client::v1 as clients;
use loyalty_api::common::v1::TimeRange;
use loyalty_api::filter::v1::{AllClients, Audience, ClientIds, audience::Source};
use loyalty_api::importexport::v1 as pb;
use loyalty_api::ledger::v1 as lpb;
use loyalty_testkit::TestApp;
use loyalty_testkit::support::{TENANT, eur, fields, ledger, with_key};
use support::*;
use tonic::Code;

/// Three members: (Vilnius client with a gift, Kaunas buyer, Vilnius client whose comment looks
/// like a formula). Returns their ids.
async fn members(app: &TestApp) -> [String; 3] {
    let mut c = client_api(app);
    for id in ["VLN-01", "KNS-01"] {
        let store = clients::Store { id: id.into(), name: id.into(), city: "Vilnius".into(), ..Default::default() };
        c.create_store(clients::CreateStoreRequest { store: Some(store) }).await.expect("store");
    }
    let people = [
        ("Šarūnė", "sarune@example.lt", "+37061200501", "VLN-01"),
        ("Jonas", "jonas@example.lt", "+37061200502", "KNS-01"),
        ("Łucja", "lucja@example.pl", "+37061200503", "VLN-01"),
    ];
    let mut ids = Vec::new();
    for (name, email, phone, store) in people {
        let person = clients::Client {
            first_name: name.into(),
            last_name: "Pirkėja".into(),
            email: email.into(),
            phone: phone.into(),
            registration_store_id: store.into(),
            ..Default::default()
        };
        let made = c.create_client(clients::CreateClientRequest { client: Some(person), ..Default::default() }).await;
        ids.push(made.expect("client").into_inner().id);
    }
    let mut l = ledger(app, &app.admin_token(TENANT));
    let gift = |key: &str, who: &String, points: i64, comment: &str| lpb::AdjustPointsRequest {
        context: with_key(key),
        client_id: who.clone(),
        points,
        comment: comment.into(),
        ..Default::default()
    };
    l.adjust_points(gift("g-1", &ids[0], 100, "sveikinimo dovana")).await.expect("gift");
    l.adjust_points(gift("g-3", &ids[2], 7, "=cmd|' /C calc'!A0")).await.expect("gift");
    let purchase = lpb::RecordPurchaseRequest {
        context: with_key("kns-check-1"),
        buyer: Some(lpb::record_purchase_request::Buyer::ClientId(ids[1].clone())),
        check_id: "1".into(),
        store_id: "KNS-01".into(),
        amount: eur(25_000),
        payment_method: lpb::PaymentMethod::Card as i32,
        ..Default::default()
    };
    l.record_purchase(purchase).await.expect("bought in Kaunas");
    segment_counts(app, 3).await;
    [ids[0].clone(), ids[1].clone(), ids[2].clone()]
}

fn operations(format: pb::FileFormat, audience: Source) -> pb::StartExportRequest {
    pb::StartExportRequest {
        kind: pb::ExportKind::LedgerOperations as i32,
        format: format as i32,
        audience: Some(Audience { source: Some(audience) }),
        language: "lt".into(),
        ..Default::default()
    }
}

fn everyone() -> Source {
    Source::AllClients(AllClients {})
}

#[tokio::test]
async fn an_audiences_operations_come_out_as_csv_xlsx_and_pdf_with_their_people() {
    let app = start_with_segments().await;
    let [vilnius, kaunas, formula] = members(&app).await;
    let mut api = admin(&app);

    let (job, csv) = export(&mut api, operations(pb::FileFormat::Csv, everyone())).await;
    assert_eq!(job.kind, "export_operations");
    assert!(job.file_name.starts_with("operacijos-") && job.file_name.ends_with(".csv"), "{job:?}");
    let text = String::from_utf8(csv).expect("UTF-8");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("Klientas,El. paštas,Vardas, pavardė") || lines[0].contains("Operacija"),
        "{}",
        lines[0]
    );
    let of = |who: &str| lines.iter().filter(|l| l.starts_with(who)).copied().collect::<Vec<_>>();
    let gift = of(&vilnius);
    assert_eq!(gift.len(), 1, "one operation of the Vilnius client: {text}");
    assert!(
        gift[0].contains("sarune@example.lt,Šarūnė Pirkėja,") && gift[0].contains(",earned,100,manual,"),
        "{}",
        gift[0]
    );
    assert!(gift[0].contains("sveikinimo dovana"), "{}", gift[0]);
    assert!(of(&kaunas).iter().any(|l| l.contains(",earned,250,") && l.contains("KNS-01")), "{text}");
    assert!(of(&formula)[0].contains(",'=cmd|"), "a formula-like comment is text: {text}");
    assert_eq!(job.rows_done, (lines.len() - 1) as i64, "every operation counted");

    // Only the ticked client, and nothing in a period before any operation.
    let ticked = Source::ClientIds(ClientIds { client_ids: vec![kaunas.clone()] });
    let (_, only) = export(&mut api, operations(pb::FileFormat::Csv, ticked.clone())).await;
    let only = String::from_utf8(only).expect("UTF-8");
    assert!(only.lines().skip(1).all(|l| l.starts_with(&kaunas)) && only.lines().count() > 1, "{only}");
    let old = TimeRange { start: None, end: Some(prost_types::Timestamp { seconds: 1_000_000_000, nanos: 0 }) };
    let long_ago = pb::StartExportRequest { period: Some(old), ..operations(pb::FileFormat::Csv, ticked) };
    let (job, none) = export(&mut api, long_ago).await;
    assert_eq!((job.rows_done, String::from_utf8(none).expect("UTF-8").lines().count()), (0, 1), "the header only");

    // XLSX, as LibreOffice reads it: times and points typed, the formula still text.
    let (_, xlsx) = export(&mut api, operations(pb::FileFormat::Xlsx, everyone())).await;
    let sheet = spreadsheet_csv(&xlsx);
    let row = sheet.lines().find(|l| l.contains(&vilnius)).unwrap_or_else(|| panic!("the gift's row: {sheet}"));
    let cells: Vec<&str> = row.split(',').collect();
    assert!(cells[3].starts_with("20") && cells[3].contains(':'), "a time: {row}");
    assert_eq!(cells[5], "100", "points are a number: {row}");
    assert!(xlsx_part(&xlsx, "xl/workbook.xml").contains("Operacijos"), "the sheet is named for what it holds");

    // Anonymised: no e-mail and no name anywhere in the file.
    let anonymous = pb::StartExportRequest { anonymise: true, ..operations(pb::FileFormat::Csv, everyone()) };
    let (_, file) = export(&mut api, anonymous).await;
    let file = String::from_utf8(file).expect("UTF-8");
    assert!(!file.contains('@') && !file.contains("Šarūnė") && file.contains(&vilnius), "{file}");

    // PDF for print, in the tenant's letters.
    let (_, pdf) = export(&mut api, operations(pb::FileFormat::Pdf, everyone())).await;
    let path = std::env::temp_dir().join(format!("operations-{}.pdf", std::process::id()));
    std::fs::write(&path, pdf).expect("written");
    let out = std::process::Command::new("pdftotext").arg(&path).arg("-").output().expect("pdftotext runs");
    let _ = std::fs::remove_file(&path);
    let printed = String::from_utf8(out.stdout).expect("text");
    assert!(printed.contains("Lojalumo operacijos") && printed.contains("Łucja Pirkėja"), "{printed}");
}

#[tokio::test]
async fn an_operations_export_needs_the_ledger_right_and_keeps_to_the_starters_stores() {
    let app = start_with_segments().await;
    let [vilnius, kaunas, _] = members(&app).await;
    let export_only = app.token(TENANT, &["clients.export", "jobs.read"]);
    let denied = api(&app, &export_only).start_export(operations(pb::FileFormat::Csv, everyone())).await;
    assert_eq!(denied.expect_err("no ledger.read").code(), Code::PermissionDenied);

    let kaunas_staff = app.store_token(TENANT, &["clients.export", "jobs.read", "ledger.read"], &["KNS-01"]);
    let mut staff = api(&app, &kaunas_staff);
    let (job, file) = export(&mut staff, operations(pb::FileFormat::Csv, everyone())).await;
    let file = String::from_utf8(file).expect("UTF-8");
    assert!(file.lines().skip(1).all(|l| l.starts_with(&kaunas)) && !file.contains(&vilnius), "{file}");
    // Someone who may export clients but not read the ledger does not see the job either.
    let peek = api(&app, &export_only).get_job(pb::GetJobRequest { job_id: job.id.clone() }).await;
    assert_eq!(peek.expect_err("not theirs to see").code(), Code::NotFound);

    let mut admin = admin(&app);
    let list = pb::StartExportRequest {
        format: pb::FileFormat::EmailList as i32,
        ..operations(pb::FileFormat::Csv, everyone())
    };
    assert_eq!(fields(&admin.start_export(list).await.expect_err("a list")), ["format"]);
    let columns =
        pb::StartExportRequest { columns: vec!["client.email".into()], ..operations(pb::FileFormat::Csv, everyone()) };
    assert_eq!(fields(&admin.start_export(columns).await.expect_err("columns")), ["columns"]);
    let at = |seconds| Some(prost_types::Timestamp { seconds, nanos: 0 });
    let backwards = TimeRange { start: at(2_000_000_000), end: at(1_000_000_000) };
    let backwards = pb::StartExportRequest { period: Some(backwards), ..operations(pb::FileFormat::Csv, everyone()) };
    assert_eq!(fields(&admin.start_export(backwards).await.expect_err("backwards")), ["period.end"]);
    let huge = TimeRange { start: at(i64::MAX), end: None };
    let huge = pb::StartExportRequest { period: Some(huge), ..operations(pb::FileFormat::Csv, everyone()) };
    assert_eq!(fields(&admin.start_export(huge).await.expect_err("overflow")), ["period.start"]);
}
