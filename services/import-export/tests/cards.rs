//! IE-1 card files: a migration's cards reach their holders (found by e-mail, phone or client id)
//! with the day the other system issued them; every row gets a result; the same file imported
//! twice issues nothing the second time; a store-scoped import stays in its stores; the right.
mod support;

use loyalty_api::card::v1 as cards;
use loyalty_api::client::v1 as clients;
use loyalty_api::importexport::v1 as pb;
use support::*;
use tonic::Code;

const PEOPLE: &str = "\
Vardas;Pavardė;El. paštas;Telefonas;Parduotuvė
Šarūnė;Žemaitė;sarune@example.lt;+37061200001;VLN-01
Jonas;Jonaitis;jonas@example.lt;;KNS-01
";

const CARDS: &str = "\
Kortelės numeris;El. paštas;Telefonas;Išdavimo data;Parduotuvė
MIG1001;sarune@example.lt;;2019-05-04;VLN-01
MIG1002;;+370 612 00001;04.06.2020;
MIG1003;nobody@example.lt;;;
;jonas@example.lt;;;
MIG1001;jonas@example.lt;;;
MIG1004;jonas@example.lt;;2999-01-01;
MIG1005;jonas@example.lt;;vakar;
MIG1006;jonas@example.lt;;2021-12-31;KNS-01
";

fn card_header(upload_id: &str) -> pb::ImportHeader {
    pb::ImportHeader { kind: pb::ImportKind::Cards as i32, file_name: "korteles.csv".into(), ..header(upload_id) }
}

async fn people(app: &loyalty_testkit::TestApp) -> Vec<clients::Client> {
    let mut c = client_api(app);
    for id in ["VLN-01", "KNS-01"] {
        let store = clients::Store { id: id.into(), name: id.into(), city: "Vilnius".into(), ..Default::default() };
        c.create_store(clients::CreateStoreRequest { store: Some(store) }).await.expect("store");
    }
    let job = import(&mut admin(app), header("people"), PEOPLE.as_bytes()).await;
    assert_eq!(job.rows_imported, 2, "{job:?}");
    let page = Some(loyalty_api::common::v1::PageRequest { page_size: 10, page_token: String::new() });
    c.list_clients(clients::ListClientsRequest { page, ..Default::default() }).await.expect("list").into_inner().clients
}

async fn cards_of(app: &loyalty_testkit::TestApp, client_id: &str) -> Vec<cards::Card> {
    let mut api = loyalty_testkit::support::cards(app, &app.admin_token(TENANT));
    let request = cards::ListClientCardsRequest { client_id: client_id.into() };
    api.list_client_cards(request).await.expect("cards").into_inner().cards
}

fn id_of<'a>(people: &'a [clients::Client], email: &str) -> &'a str {
    people.iter().find(|c| c.email == email).map(|c| c.id.as_str()).expect("imported")
}

#[tokio::test]
async fn a_card_file_reaches_its_holders_with_their_issue_dates_and_says_what_became_of_each_row() {
    let app = start().await;
    let people = people(&app).await;
    let (sarune, jonas) = (id_of(&people, "sarune@example.lt"), id_of(&people, "jonas@example.lt"));
    let mut api = admin(&app);

    let dry = pb::ImportHeader { dry_run: true, ..card_header("cards-dry") };
    let job = import(&mut api, dry, CARDS.as_bytes()).await;
    // A dry run cannot know that MIG1001 will be Šarūnė's by the time row 6 gives it to Jonas.
    assert_eq!((job.rows_total, job.rows_imported, job.rows_failed), (8, 4, 4), "{job:?}");
    assert!(cards_of(&app, sarune).await.is_empty(), "a dry run issues nothing");

    let job = import(&mut api, card_header("cards"), CARDS.as_bytes()).await;
    assert_eq!(job.state(), pb::JobState::Succeeded, "{job:?}");
    assert_eq!(
        (job.rows_total, job.rows_imported, job.rows_failed),
        (8, 3, 5),
        "{job:?} {:?}",
        reports(&mut api, &job.id).await
    );
    let theirs = cards_of(&app, sarune).await;
    let mut numbers: Vec<&str> = theirs.iter().map(|c| c.number.as_str()).collect();
    numbers.sort();
    assert_eq!(numbers, ["MIG1001", "MIG1002"], "by e-mail, and by a phone written another way");
    let first = theirs.iter().find(|c| c.number == "MIG1001").expect("MIG1001");
    assert_eq!(first.created_at.as_ref().map(|t| t.seconds), Some(1_556_928_000), "issued 2019-05-04, not today");
    assert_eq!(first.store_id, "VLN-01");
    let his = cards_of(&app, jonas).await;
    assert_eq!(his.iter().map(|c| c.number.as_str()).collect::<Vec<_>>(), ["MIG1006"]);

    let reports = reports(&mut api, &job.id).await;
    let why = |row: i64| -> String {
        let found = reports.iter().find(|r| r.0 == row).unwrap_or_else(|| panic!("row {row}: {reports:?}"));
        found.2.iter().map(|(c, w)| format!("{c}: {w}")).collect::<Vec<_>>().join("; ")
    };
    assert!(why(4).starts_with("El. paštas: names no client"), "{}", why(4));
    assert!(why(5).starts_with("Kortelės numeris: is required"), "{}", why(5));
    assert!(why(6).contains(&format!("already held by the client {sarune}")), "{}", why(6));
    assert!(why(7).starts_with("Išdavimo data:") && why(7).contains("future"), "{}", why(7));
    assert!(why(8).starts_with("Išdavimo data:") && why(8).contains("not a date"), "{}", why(8));
    let errors = error_file(&mut api, &job.id).await;
    assert_eq!(errors.lines().count(), 6, "the header and the five bad rows, in the uploaded layout: {errors}");

    // The same file again: every card is already its holder's, nothing is issued twice.
    let again = import(&mut api, card_header("cards-again"), CARDS.as_bytes()).await;
    assert_eq!((again.rows_imported, again.duplicate_warnings), (0, 3), "{again:?}");
    assert_eq!(cards_of(&app, sarune).await.len(), 2);
}

#[tokio::test]
async fn a_scoped_import_stays_in_its_stores_and_importing_cards_needs_the_card_right() {
    let app = start().await;
    let people = people(&app).await;
    let token = app.store_token(TENANT, &["import.run", "cards.write", "jobs.read"], &["VLN-01"]);
    let mut vilnius = api(&app, &token);
    let file = "Kortelės numeris;El. paštas;Parduotuvė\nMIG2001;sarune@example.lt;\nMIG2002;jonas@example.lt;\nMIG2003;sarune@example.lt;KNS-01\n";
    let job = import(&mut vilnius, card_header("scoped"), file.as_bytes()).await;
    assert_eq!((job.rows_imported, job.rows_failed), (1, 2), "{job:?}");
    let theirs = cards_of(&app, id_of(&people, "sarune@example.lt")).await;
    assert_eq!(
        theirs.iter().map(|c| (c.number.as_str(), c.store_id.as_str())).collect::<Vec<_>>(),
        [("MIG2001", "VLN-01")]
    );
    let reports = reports(&mut vilnius, &job.id).await;
    let text = format!("{reports:?}");
    assert!(text.contains("names no client of the stores the import may act in"), "Jonas is Kaunas's: {text}");
    assert!(text.contains("must be one of the stores the import may act in: VLN-01"), "{text}");

    let no_cards = app.token(TENANT, &["import.run", "jobs.read"]);
    let denied = upload(&mut api(&app, &no_cards), card_header("denied"), file.as_bytes()).await.expect_err("denied");
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied:?}");
    assert!(denied.message().contains("cards.write"), "{denied:?}");
}
