//! IE-1 balance files: a migration's points become each holder's opening balance with the
//! expiry they had in the old system; a dry run credits nothing; every row gets a result; the
//! same file imported twice credits nothing twice; the right.
mod support;

use loyalty_api::client::v1 as clients;
use loyalty_api::importexport::v1 as pb;
use loyalty_api::ledger::v1 as lpb;
use support::*;
use tonic::Code;

const PEOPLE: &str = "\
Vardas;Pavardė;El. paštas;Telefonas
Šarūnė;Žemaitė;sarune@example.lt;+37061200001
Jonas;Jonaitis;jonas@example.lt;
";

const BALANCES: &str = "\
El. paštas;Telefonas;Taškai;Galioja iki
sarune@example.lt;;1 250;2999-03-31
;+370 612 00001;80;
nobody@example.lt;;10;
jonas@example.lt;;0;
jonas@example.lt;;5;2001-01-01
jonas@example.lt;;300;
";

fn balance_header(upload_id: &str) -> pb::ImportHeader {
    pb::ImportHeader { kind: pb::ImportKind::Balances as i32, file_name: "taskai.csv".into(), ..header(upload_id) }
}

async fn people(app: &loyalty_testkit::TestApp) -> Vec<clients::Client> {
    imported(app, PEOPLE).await
}

async fn balance(app: &loyalty_testkit::TestApp, client_id: &str) -> lpb::Balance {
    let mut ledger = loyalty_testkit::support::ledger(app, &app.admin_token(TENANT));
    let asked = lpb::GetBalanceRequest { client_id: client_id.into(), ..Default::default() };
    match ledger.get_balance(asked).await {
        Ok(b) => b.into_inner(),
        Err(s) if s.code() == Code::NotFound => lpb::Balance::default(),
        Err(s) => panic!("balance: {s:?}"),
    }
}

#[tokio::test]
async fn a_balance_file_becomes_opening_balances_once_with_their_expiry_and_reports_every_row() {
    let app = start().await;
    let people = people(&app).await;
    let id = |email: &str| people.iter().find(|c| c.email == email).map(|c| c.id.clone()).expect("imported");
    let (sarune, jonas) = (id("sarune@example.lt"), id("jonas@example.lt"));
    let mut api = admin(&app);

    let dry = pb::ImportHeader { dry_run: true, ..balance_header("dry") };
    let job = import(&mut api, dry, BALANCES.as_bytes()).await;
    // A dry run cannot know that row 3 will find Šarūnė holding row 2's balance.
    assert_eq!((job.rows_total, job.rows_imported, job.rows_failed), (6, 3, 3), "{job:?}");
    assert_eq!(balance(&app, &sarune).await.available, 0, "a dry run credits nothing");

    let job = import(&mut api, balance_header("real"), BALANCES.as_bytes()).await;
    assert_eq!(job.state(), pb::JobState::Succeeded, "{job:?}");
    assert_eq!((job.rows_imported, job.duplicate_warnings, job.rows_failed), (2, 1, 3), "{job:?}");
    let hers = balance(&app, &sarune).await;
    assert_eq!(hers.available, 1250, "her first row, not the second by phone");
    let end_of_day = time::macros::datetime!(2999-04-01 0:00 UTC).unix_timestamp();
    assert_eq!(hers.next_expiry_at.map(|t| t.seconds), Some(end_of_day), "valid through 31 March");
    assert_eq!(balance(&app, &jonas).await.available, 300);

    let reports = reports(&mut api, &job.id).await;
    let why = |row: i64| said(&reports, row);
    assert!(why(3).starts_with("duplicate_warning Taškai: the client already has an opening balance"), "{}", why(3));
    assert!(why(4).starts_with("error El. paštas: names no client"), "{}", why(4));
    assert!(why(5).starts_with("error Taškai: must be a positive number"), "{}", why(5));
    assert!(why(6).starts_with("error Galioja iki: has passed"), "{}", why(6));

    let mut ledger = loyalty_testkit::support::ledger(&app, &app.admin_token(TENANT));
    let page = Some(loyalty_api::common::v1::PageRequest { page_size: 10, page_token: String::new() });
    let entries =
        ledger.list_entries(lpb::ListEntriesRequest { client_id: sarune.clone(), page, ..Default::default() });
    let entries = entries.await.expect("entries").into_inner().entries;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(
        (entries[0].source.as_str(), entries[0].comment.as_str()),
        ("opening", "opening balance from taskai.csv")
    );

    let again = import(&mut api, balance_header("again"), BALANCES.as_bytes()).await;
    assert_eq!((again.rows_imported, again.duplicate_warnings), (0, 3), "{again:?}");
    assert_eq!((balance(&app, &sarune).await.available, balance(&app, &jonas).await.available), (1250, 300));
}

#[tokio::test]
async fn importing_balances_needs_the_ledger_right() {
    let app = start().await;
    people(&app).await;
    let token = app.token(TENANT, &["import.run", "jobs.read"]);
    let denied = upload(&mut api(&app, &token), balance_header("denied"), BALANCES.as_bytes()).await;
    let denied = denied.expect_err("no ledger.manual");
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    assert!(denied.message().contains("ledger.manual"), "{denied:?}");
}
