//! IE-3, IE-4: an audience out as CSV, XLSX and an e-mail list, read back by a real spreadsheet
//! program; typed cells, a frozen header, formulas defused; anonymised and consented-only
//! exports; the right, the tenant and the store scope; files kept 24 hours; downloads that resume.
mod support;

use loyalty_api::client::v1 as clients;
use loyalty_api::filter::v1::{AllClients, Audience, audience::Source};
use loyalty_api::importexport::v1 as pb;
use loyalty_platform::clock::ManualClock;
use loyalty_testkit::support::TENANT;
use std::sync::Arc;
use support::*;
use tonic::Code;

const PEOPLE: &str = "\
Vardas;Pavardė;El. paštas;Gimimo data;Miestas;Parduotuvė;Email consent
Šarūnė;Žemaitė;sarune@example.lt;1985-03-09;Vilnius;VLN-01;taip
Jonas;Jonaitis;jonas@example.lt;1979-11-09;Kaunas;KNS-01;ne
\"=HYPERLINK(\"\"http://evil.example\"\";\"\"spausk\"\")\";Įsilaužėlis;evil@example.lt;;Vilnius;VLN-01;taip
Łucja;Wąs;lucja@example.pl;1990-01-31;Kaunas;KNS-01;taip
";

fn everyone() -> Option<Audience> {
    Some(Audience { source: Some(Source::AllClients(AllClients {})) })
}

fn columns(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

async fn people(app: &loyalty_testkit::TestApp) {
    let mut c = client_api(app);
    for id in ["VLN-01", "KNS-01"] {
        let store = clients::Store { id: id.into(), name: id.into(), city: "Vilnius".into(), ..Default::default() };
        c.create_store(clients::CreateStoreRequest { store: Some(store) }).await.expect("store");
    }
    let job = import(&mut admin(app), header("people"), PEOPLE.as_bytes()).await;
    assert_eq!(job.rows_imported, 4, "{job:?}");
    segment_counts(app, 4).await;
}

fn request(format: pb::FileFormat, names: &[&str]) -> pb::StartExportRequest {
    pb::StartExportRequest {
        kind: pb::ExportKind::Clients as i32,
        format: format as i32,
        audience: everyone(),
        columns: columns(names),
        ..Default::default()
    }
}

#[tokio::test]
async fn csv_xlsx_and_email_lists_hold_what_was_asked_and_a_spreadsheet_opens_them() {
    let app = start_with_segments().await;
    people(&app).await;
    let mut api = admin(&app);
    let asked = ["client.first_name", "client.last_name", "client.email", "client.birth_date", "client.city"];

    let csv_request =
        pb::StartExportRequest { csv_bom: true, language: "lt".into(), ..request(pb::FileFormat::Csv, &asked) };
    let (job, csv) = export(&mut api, csv_request).await;
    assert_eq!((job.rows_total, job.file_size), (4, csv.len() as i64));
    assert!(job.file_name.ends_with(".csv") && job.expires_at.is_some(), "{job:?}");
    let sha: String = {
        use sha2::Digest;
        sha2::Sha256::digest(&csv).iter().map(|b| format!("{b:02x}")).collect()
    };
    assert_eq!(job.sha256, sha, "the checksum is the file's");
    let text = String::from_utf8(csv.clone()).expect("UTF-8");
    let text = text.strip_prefix('\u{feff}').expect("the byte-order mark asked for");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "a header and four clients: {text}");
    assert!(lines[0].contains("Vardas") || lines[0].contains("vardas"), "labels in Lithuanian: {}", lines[0]);
    assert!(text.contains("Šarūnė,Žemaitė,sarune@example.lt,1985-03-09,Vilnius"), "{text}");
    assert!(text.contains("\"'=HYPERLINK("), "a formula is written as text: {text}");
    // Resume a download at an offset.
    let tail = download(&mut api, &job.id, 10).await.expect("resumed");
    assert_eq!(tail, csv[10..].to_vec());
    let past = download(&mut api, &job.id, csv.len() as i64 + 1).await.expect_err("past the end");
    assert_eq!(fields(&past), ["offset"]);

    let (job, xlsx) = export(&mut api, request(pb::FileFormat::Xlsx, &asked)).await;
    assert!(xlsx.starts_with(b"PK"), "an XLSX is a zip");
    assert_eq!(job.rows_total, 4);
    let opened = spreadsheet_csv(&xlsx);
    let rows: Vec<&str> = opened.lines().collect();
    assert_eq!(rows.len(), 5, "{opened}");
    assert_eq!(rows[0], r#""First name","Last name","E-mail","Birthday","City""#, "{opened}");
    // LibreOffice quotes text cells only: the date is a date cell.
    assert!(opened.contains(r#""Šarūnė","Žemaitė","sarune@example.lt",1985-03-09,"Vilnius""#), "{opened}");
    assert!(
        opened.contains(r#""=HYPERLINK(""http://evil.example"";""spausk"")","Įsilaužėlis""#),
        "the formula stayed text: {opened}"
    );
    let sheet = xlsx_part(&xlsx, "xl/worksheets/sheet1.xml");
    assert!(sheet.contains("state=\"frozen\"") && sheet.contains("ySplit=\"1\""), "a frozen header row");
    assert!(sheet.contains("<autoFilter ref=\"A1:E5\""), "an autofilter over the table: {sheet}");
    assert!(!sheet.contains("<f>"), "no formulas in the sheet");

    let list = pb::StartExportRequest { only_consented: true, ..request(pb::FileFormat::EmailList, &[]) };
    let (_, emails) = export(&mut api, list).await;
    let mut addresses: Vec<String> = String::from_utf8(emails).expect("text").lines().map(String::from).collect();
    addresses.sort();
    assert_eq!(addresses, ["evil@example.lt", "lucja@example.pl", "sarune@example.lt"], "the consented only");
}

#[tokio::test]
async fn anonymised_exports_drop_identifiers_and_numbers_are_numbers() {
    let app = start_with_segments().await;
    people(&app).await;
    let mut api = admin(&app);
    let asked = ["client.first_name", "client.email", "client.city", "purchases.count"];
    let anonymous = pb::StartExportRequest { anonymise: true, ..request(pb::FileFormat::Xlsx, &asked) };
    let (_, xlsx) = export(&mut api, anonymous).await;
    let opened = spreadsheet_csv(&xlsx);
    assert_eq!(opened.lines().next(), Some(r#""City","Number of purchases""#), "names and emails are gone: {opened}");
    assert!(opened.contains("\"Vilnius\",0"), "a count is a number cell: {opened}");
    assert!(!opened.contains("example.lt") && !opened.contains("Šarūnė"), "{opened}");
    let sheet = xlsx_part(&xlsx, "xl/worksheets/sheet1.xml");
    assert!(sheet.contains("<c r=\"B2\" s=\"") && sheet.contains("<v>0</v>"), "a count is a number cell: {sheet}");
}

#[tokio::test]
async fn exports_need_their_right_stay_in_their_tenant_and_a_scoped_token_sees_its_stores() {
    let app = start_with_segments().await;
    people(&app).await;
    let asked = ["client.first_name", "client.registration_store"];
    let mut marketer = api(&app, &app.token(TENANT, &["import.run", "jobs.read"]));
    let denied = marketer.start_export(request(pb::FileFormat::Csv, &asked)).await.expect_err("no export right");
    assert_eq!(denied.code(), Code::PermissionDenied);

    let token = app.store_token(TENANT, &["clients.export", "jobs.read"], &["VLN-01"]);
    let mut vilnius = api(&app, &token);
    let (job, csv) = export(&mut vilnius, request(pb::FileFormat::Csv, &asked)).await;
    let text = String::from_utf8(csv).expect("text");
    assert_eq!(job.rows_total, 2, "only Vilnius clients: {text}");
    assert!(!text.contains("KNS-01") && text.contains("Šarūnė"), "{text}");

    let (chain, _) = export(&mut admin(&app), request(pb::FileFormat::Csv, &asked)).await;
    assert_eq!(chain.rows_total, 4);
    let hidden = download(&mut vilnius, &chain.id, 0).await.expect_err("the chain's export");
    assert_eq!(hidden.code(), Code::NotFound, "a scoped token does not see the chain's exports");
    let mut other = api(&app, &app.admin_token("globex"));
    assert_eq!(download(&mut other, &chain.id, 0).await.expect_err("other tenant").code(), Code::NotFound);
    let theirs = other.get_job(pb::GetJobRequest { job_id: chain.id.clone() }).await.expect_err("other tenant");
    assert_eq!(theirs.code(), Code::NotFound);
}

#[tokio::test]
async fn bad_requests_are_refused_by_field_and_start_nothing() {
    let app = start_with_segments().await;
    let mut api = admin(&app);
    let bad = pb::StartExportRequest {
        columns: columns(&["client.shoe_size", "purchase_lines.sku"]),
        data_groups: columns(&["historical", "gossip"]),
        language: "de".into(),
        ..Default::default()
    };
    let refused = api.start_export(bad).await.expect_err("refused");
    assert_eq!(
        fields(&refused),
        ["format", "audience", "language", "data_groups[0]", "data_groups[1]", "columns[0]", "columns[1]"]
    );
    let jobs = api.list_jobs(pb::ListJobsRequest::default()).await.expect("jobs").into_inner();
    assert!(jobs.jobs.is_empty(), "nothing started");

    // No columns named: the default set, every one a client fact.
    let defaults = api.start_export(request(pb::FileFormat::Csv, &[])).await.expect("the default columns").into_inner();
    let defaults = finished(&mut api, &defaults.id).await;
    assert_eq!(defaults.state(), pb::JobState::Succeeded, "{defaults:?}");
    // The same key twice is one export.
    let keyed = pb::StartExportRequest {
        context: loyalty_testkit::support::with_key("export-1"),
        ..request(pb::FileFormat::Csv, &["client.first_name"])
    };
    let first = api.start_export(keyed.clone()).await.expect("first").into_inner();
    let again = api.start_export(keyed).await.expect("again").into_inner();
    assert_eq!(first.id, again.id);
}

#[tokio::test]
async fn files_are_deleted_a_day_later_and_an_erasure_withdraws_them() {
    let clock = Arc::new(ManualClock::starting_at(time::OffsetDateTime::now_utc()));
    let app = start_with_clock(clock.clone()).await;
    people(&app).await;
    let mut api = admin(&app);
    let (job, _) = export(&mut api, request(pb::FileFormat::Csv, &["client.first_name"])).await;
    clock.advance(time::Duration::hours(23));
    download(&mut api, &job.id, 0).await.expect("still there after 23 hours");
    clock.advance(time::Duration::hours(2));
    let gone = download(&mut api, &job.id, 0).await.expect_err("gone after 24 hours");
    assert_eq!(gone.code(), Code::NotFound);
    assert!(gone.message().contains("24 hours"), "{}", gone.message());
    let db = loyalty_testkit::support::sql(&app, "importexport").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let left: i64 = db.query_one("SELECT count(*) FROM export_chunks", &[]).await.expect("count").get(0);
        if left == 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the purge never deleted the file's {left} chunks");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // A GDPR erasure withdraws the files made before it.
    let (fresh, _) = export(&mut api, request(pb::FileFormat::Csv, &["client.first_name"])).await;
    let mut people_api = client_api(&app);
    let found = people_api
        .list_clients(clients::ListClientsRequest { query: "jonas@example.lt".into(), ..Default::default() })
        .await
        .expect("search")
        .into_inner();
    let erase = clients::EraseClientRequest {
        client_id: found.clients[0].id.clone(),
        reason: "GDPR-7".into(),
        ..Default::default()
    };
    people_api.erase_client(erase).await.expect("erased");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if download(&mut api, &fresh.id, 0).await.is_err() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the erasure never reached the export");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn card_numbers_are_a_column_of_the_client_table_and_anonymising_drops_them() {
    use loyalty_api::card::v1 as cards;
    let app = start_with_segments().await;
    people(&app).await;
    let page = Some(loyalty_api::common::v1::PageRequest { page_size: 100, page_token: String::new() });
    let listed = client_api(&app).list_clients(clients::ListClientsRequest { page, ..Default::default() }).await;
    let listed = listed.expect("clients").into_inner().clients;
    let holder = listed.into_iter().find(|c| c.email == "sarune@example.lt").expect("Šarūnė").id;
    let mut card_api = loyalty_testkit::support::cards(&app, &app.admin_token(TENANT));
    let mut numbers = Vec::new();
    for _ in 0..2 {
        let card = cards::Card { client_id: holder.clone(), ..Default::default() };
        let issued = card_api.issue_card(cards::IssueCardRequest { card: Some(card), ..Default::default() }).await;
        numbers.push(issued.expect("issued").into_inner().number);
    }
    numbers.sort();
    let mut api = admin(&app);
    let asked = ["client.email", "client.card_numbers"];
    let expected = format!("sarune@example.lt,\"{}\"", numbers.join(", "));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let text = loop {
        let (_, csv) = export(&mut api, request(pb::FileFormat::Csv, &asked)).await;
        let text = String::from_utf8(csv).expect("text");
        if text.contains(&expected) || std::time::Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert!(text.contains(&expected), "both cards of Šarūnė, in one cell: {text}");
    assert!(text.contains("jonas@example.lt,\n") || text.contains("jonas@example.lt\n"), "Jonas has none: {text}");

    let anonymous = pb::StartExportRequest {
        anonymise: true,
        ..request(pb::FileFormat::Csv, &["client.city", "client.card_numbers"])
    };
    let (_, csv) = export(&mut api, anonymous).await;
    let text = String::from_utf8(csv).expect("text");
    assert!(!numbers.iter().any(|n| text.contains(n.as_str())), "card numbers identify a client: {text}");
}

#[tokio::test]
async fn the_historical_group_sums_each_clients_purchases_over_the_period() {
    let app = start_with_segments().await;
    people(&app).await;
    let mut api = admin(&app);
    let history = "El. paštas;Čekio nr.;Pirkimo data;Suma;Parduotuvė\n\
                   sarune@example.lt;K-1;2021-05-04;23,40;VLN-01\n\
                   sarune@example.lt;K-2;2022-01-10;100;VLN-01\n\
                   sarune@example.lt;K-3;2022-11-30;20,50;VLN-01\n";
    let header = pb::ImportHeader { kind: pb::ImportKind::Purchases as i32, ..header("history") };
    assert_eq!(import(&mut api, header, history.as_bytes()).await.rows_imported, 3);
    let at = |y: i32, m: time::Month, d: u8| {
        let day = time::Date::from_calendar_date(y, m, d).expect("a day");
        Some(prost_types::Timestamp { seconds: day.midnight().assume_utc().unix_timestamp(), nanos: 0 })
    };
    let period = loyalty_api::common::v1::TimeRange {
        start: at(2022, time::Month::January, 1),
        end: at(2022, time::Month::December, 31),
    };
    let asked = pb::StartExportRequest {
        columns: columns(&["client.email"]),
        data_groups: vec!["historical".into()],
        period: Some(period),
        ..request(pb::FileFormat::Csv, &[])
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let text = loop {
        let (_, csv) = export(&mut api, asked.clone()).await;
        let text = String::from_utf8(csv).expect("text");
        if text.contains("sarune@example.lt,2,120.5,") || std::time::Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let header_row = text.lines().next().unwrap_or("");
    assert!(header_row.starts_with("E-mail,Number of purchases in the period,"), "{header_row}");
    assert!(text.contains("sarune@example.lt,2,120.5,60.25,0,0,0"), "2022's two checks, not 2021's: {text}");
    assert!(text.contains("jonas@example.lt,0,0,,0,0,0"), "no average of nothing: {text}");

    let no_period = pb::StartExportRequest { period: None, ..asked };
    let refused = api.start_export(no_period).await.expect_err("historical needs a period");
    assert_eq!(fields(&refused), ["data_groups[0]"]);
}
