//! IE-1 purchase-history files: a migration's checks are recorded for their holders with their
//! time, store and total, earning no points; every row gets a result; a dry run records nothing;
//! the same file imported twice records nothing twice; the right.
mod support;

use loyalty_api::client::v1 as clients;
use loyalty_api::importexport::v1 as pb;
use loyalty_api::ledger::v1 as lpb;
use support::*;
use tonic::Code;

const PEOPLE: &str = "\
Vardas;Pavardė;El. paštas
Šarūnė;Žemaitė;sarune@example.lt
Jonas;Jonaitis;jonas@example.lt
";

const HISTORY: &str = "\
El. paštas;Čekio nr.;Pirkimo data;Suma;Parduotuvė
sarune@example.lt;K-1;2021-05-04 18:30;23,40;VLN-01
sarune@example.lt;K-2;10.01.2022;100;VLN-01
jonas@example.lt;K-1;2021-06-01;5,00;KNS-01
jonas@example.lt;K-1;2021-06-01;5,00;KNS-01
nobody@example.lt;K-9;2021-01-01;1;VLN-01
jonas@example.lt;;2021-01-01;1;KNS-01
jonas@example.lt;K-3;2021-01-01;12.505;KNS-01
";

fn history_header(upload_id: &str) -> pb::ImportHeader {
    pb::ImportHeader { kind: pb::ImportKind::Purchases as i32, file_name: "pirkimai.csv".into(), ..header(upload_id) }
}

async fn people(app: &loyalty_testkit::TestApp) -> Vec<clients::Client> {
    imported(app, PEOPLE).await
}

async fn purchases_of(app: &loyalty_testkit::TestApp, client_id: &str) -> Vec<lpb::Purchase> {
    let mut ledger = loyalty_testkit::support::ledger(app, &app.admin_token(TENANT));
    let asked = lpb::ListPurchasesRequest { client_id: client_id.into(), ..Default::default() };
    match ledger.list_purchases(asked).await {
        Ok(found) => found.into_inner().purchases,
        Err(s) if s.code() == Code::NotFound => Vec::new(),
        Err(s) => panic!("purchases: {s:?}"),
    }
}

#[tokio::test]
async fn a_history_file_records_each_check_once_with_its_time_and_earns_nothing() {
    let app = start().await;
    let people = people(&app).await;
    let id = |email: &str| people.iter().find(|c| c.email == email).map(|c| c.id.clone()).expect("imported");
    let (sarune, jonas) = (id("sarune@example.lt"), id("jonas@example.lt"));
    let mut api = admin(&app);

    let dry = pb::ImportHeader { dry_run: true, ..history_header("dry") };
    let job = import(&mut api, dry, HISTORY.as_bytes()).await;
    // A dry run cannot know that row 5 repeats the check row 4 will have recorded.
    assert_eq!((job.rows_total, job.rows_imported, job.rows_failed), (7, 4, 3), "{job:?}");
    assert!(purchases_of(&app, &sarune).await.is_empty(), "a dry run records nothing");

    let job = import(&mut api, history_header("real"), HISTORY.as_bytes()).await;
    assert_eq!(job.state(), pb::JobState::Succeeded, "{job:?}");
    assert_eq!((job.rows_imported, job.duplicate_warnings, job.rows_failed), (3, 1, 3), "{job:?}");
    let mut hers = purchases_of(&app, &sarune).await;
    hers.sort_by_key(|p| p.check_id.clone());
    let seen: Vec<(&str, i64, i64)> = hers
        .iter()
        .map(|p| (p.check_id.as_str(), p.amount.as_ref().map(|a| a.minor_units).unwrap_or(0), p.points_earned))
        .collect();
    assert_eq!(seen, [("K-1", 2340, 0), ("K-2", 10_000, 0)], "history earns no points");
    let at = time::macros::datetime!(2021-05-04 18:30 UTC).unix_timestamp();
    assert_eq!(hers[0].purchased_at.as_ref().map(|t| t.seconds), Some(at), "bought when it was bought");
    assert_eq!(
        (hers[0].store_id.as_str(), hers[0].amount.as_ref().map(|a| a.currency.as_str())),
        ("VLN-01", Some("EUR"))
    );
    assert_eq!(purchases_of(&app, &jonas).await.len(), 1, "K-1 of Kaunas is another store's check");

    let reports = reports(&mut api, &job.id).await;
    let why = |row: i64| said(&reports, row);
    assert!(
        why(5).starts_with("duplicate_warning Čekio nr.: the check K-1 of store \"KNS-01\" was recorded already"),
        "{}",
        why(5)
    );
    assert!(why(6).starts_with("error El. paštas: names no client"), "{}", why(6));
    assert!(why(7).starts_with("error Čekio nr.: is required"), "{}", why(7));
    assert!(why(8).starts_with("error Suma:") && why(8).contains("two decimals"), "{}", why(8));

    let again = import(&mut api, history_header("again"), HISTORY.as_bytes()).await;
    assert_eq!((again.rows_imported, again.duplicate_warnings), (0, 4), "{again:?}");
    assert_eq!(purchases_of(&app, &sarune).await.len(), 2);
}

#[tokio::test]
async fn importing_purchase_history_needs_the_manual_purchase_right() {
    let app = start().await;
    people(&app).await;
    let token = app.token(TENANT, &["import.run", "jobs.read"]);
    let denied = upload(&mut api(&app, &token), history_header("denied"), HISTORY.as_bytes()).await;
    let denied = denied.expect_err("no purchases.manual");
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    assert!(denied.message().contains("purchases.manual"), "{denied:?}");
}

/// One line a row, a check's lines one after another; the check at rows 2–5 spans the suite's
/// batches of three rows.
const LINES: &str = "\
El. paštas;Čekio nr.;Pirkimo data;Parduotuvė;Prekės kodas;Prekė;Kategorija;Kiekis;Suma
sarune@example.lt;L-1;2021-05-04;VLN-01;KAVA-1;Kava;Gėrimai;2;7,00
sarune@example.lt;L-1;2021-05-04;VLN-01;PIENAS;Pienas;Pieno produktai;1;1,20
sarune@example.lt;L-1;2021-05-04;VLN-01;DUONA;Duona;Kepiniai;0,5;0,80
sarune@example.lt;L-1;2021-05-04;VLN-01;SURIS;Sūris;Pieno produktai;1;4,00
jonas@example.lt;L-2;2021-06-01;KNS-01;KAVA-1;Kava;Gėrimai;1;3,50
jonas@example.lt;L-3;2021-06-02;KNS-01;KAVA-1;Kava;Gėrimai;1;3,50
jonas@example.lt;L-3;2021-06-02;KNS-01;;Be kodo;;1;1,00
";

#[tokio::test]
async fn a_history_file_with_lines_records_each_check_whole_with_its_products() {
    let app = start().await;
    let people = people(&app).await;
    let id = |email: &str| people.iter().find(|c| c.email == email).map(|c| c.id.clone()).expect("imported");
    let (sarune, jonas) = (id("sarune@example.lt"), id("jonas@example.lt"));
    let mut api = admin(&app);
    let job = import(&mut api, history_header("lines"), LINES.as_bytes()).await;
    assert_eq!(job.state(), pb::JobState::Succeeded, "{job:?}");
    assert_eq!((job.rows_total, job.rows_imported, job.rows_failed), (7, 5, 2), "{job:?}");

    let hers = purchases_of(&app, &sarune).await;
    assert_eq!(hers.len(), 1, "four rows, one check (across two batches): {hers:?}");
    let check = &hers[0];
    assert_eq!((check.check_id.as_str(), check.amount.as_ref().map(|a| a.minor_units)), ("L-1", Some(1300)));
    let lines: Vec<(i32, &str, &str, &str, i64, i64)> = check
        .lines
        .iter()
        .map(|l| {
            let amount = l.amount.as_ref().map(|a| a.minor_units).unwrap_or(0);
            (l.line_no, l.sku.as_str(), l.name.as_str(), l.category.as_str(), l.quantity_milli, amount)
        })
        .collect();
    assert_eq!(
        lines,
        [
            (1, "KAVA-1", "Kava", "Gėrimai", 2000, 700),
            (2, "PIENAS", "Pienas", "Pieno produktai", 1000, 120),
            (3, "DUONA", "Duona", "Kepiniai", 500, 80),
            (4, "SURIS", "Sūris", "Pieno produktai", 1000, 400),
        ]
    );
    assert_eq!(check.points_earned, 0, "history earns nothing");
    let his: Vec<String> = purchases_of(&app, &jonas).await.into_iter().map(|p| p.check_id).collect();
    assert_eq!(his, ["L-2"], "L-3 has a wrong line, so none of it is recorded");

    let reports = reports(&mut api, &job.id).await;
    let why = |row: i64| said(&reports, row);
    assert!(why(8).starts_with("error Prekės kodas: is required"), "{}", why(8));
    assert!(why(7).contains("its line in row 8 is wrong"), "{}", why(7));

    let again = import(&mut api, history_header("lines-again"), LINES.as_bytes()).await;
    assert_eq!((again.rows_imported, again.duplicate_warnings, again.rows_failed), (0, 5, 2), "{again:?}");
    assert_eq!(purchases_of(&app, &sarune).await.len(), 1, "nothing recorded twice");
}
