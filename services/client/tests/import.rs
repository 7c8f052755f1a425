//! A migration's batch (IE-1): email-only rows import, duplicates name the client they match,
//! bad rows are told with every problem and never stop the good ones, the original times are
//! kept, a dry run writes nothing and a retried batch gets its first answer.
mod support;

use loyalty_api::client::v1 as pb;
use loyalty_api::client::v1::import_client_result::Outcome;
use loyalty_api::common::v1::{ConsentStatus, ContactChannel, Date};
use loyalty_testkit::support::TENANT;
use support::*;
use tonic::Code;

fn at(rfc3339: &str) -> Option<prost_types::Timestamp> {
    let t = time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339).expect("time");
    Some(loyalty_platform::convert::to_timestamp(t))
}

fn row(first: &str, email: &str) -> pb::Client {
    pb::Client { first_name: first.into(), email: email.into(), ..Default::default() }
}

fn batch(key: &str, clients: Vec<pb::Client>) -> pb::ImportClientsRequest {
    pb::ImportClientsRequest { context: with_key(key), clients, ..Default::default() }
}

fn outcomes(answer: &pb::ImportClientsResponse) -> Vec<Outcome> {
    answer.results.iter().map(|r| r.outcome()).collect()
}

#[tokio::test]
async fn a_batch_creates_good_rows_and_names_duplicates_and_problems() {
    let app = start().await;
    let mut api = admin(&app);
    let mut existing = person("Ona", "Senoji", "+37061200001");
    existing.email = "ona@example.lt".into();
    let ona = api.create_client(create(existing)).await.expect("existing").into_inner();

    let consent = pb::ChannelConsent {
        channel: ContactChannel::Email as i32,
        status: ConsentStatus::Subscribed as i32,
        changed_at: at("2023-03-04T10:00:00Z"),
        source: "shop form".into(),
        ..Default::default()
    };
    let migrated = pb::Client {
        registered_at: at("2019-06-01T08:30:00Z"),
        consents: vec![consent],
        ..row("Rūta", "ruta@example.lt")
    };
    let rows = vec![
        migrated,
        row("Ona again", "ONA@example.lt"),
        row("Nobody", ""),
        pb::Client { birth_date: Some(Date { year: 2999, month: 1, day: 1 }), ..row("Future", "future@example.lt") },
        row("Rūta twice", "Ruta@Example.lt"),
    ];
    let answer = api.import_clients(batch("batch-1", rows.clone())).await.expect("imported").into_inner();
    assert_eq!(
        outcomes(&answer),
        [Outcome::Created, Outcome::Duplicate, Outcome::Invalid, Outcome::Invalid, Outcome::Duplicate]
    );
    let ruta_id = answer.results[0].client_id.clone();
    assert_eq!(answer.results[1].client_id, ona.id, "a duplicate names the client it matched");
    assert_eq!(answer.results[1].violations[0].field, "email");
    assert_eq!(answer.results[4].client_id, ruta_id, "a second row of one person matches the first");
    assert_eq!(answer.results[2].violations[0].field, "email", "{:?}", answer.results[2]);
    assert_eq!(answer.results[3].violations[0].field, "birth_date");
    assert_eq!(total(&mut api).await, 2, "only the good row was written");

    let ruta = api.get_client(pb::GetClientRequest { client_id: ruta_id.clone() }).await.expect("get").into_inner();
    assert_eq!(ruta.registered_at, at("2019-06-01T08:30:00Z"), "the original registration is kept");
    assert_eq!(ruta.added_by(), pb::AddedBy::Import);
    let email = &ruta.consents[0];
    assert_eq!((email.changed_at, email.source.as_str()), (at("2023-03-04T10:00:00Z"), "shop form"));

    // The same batch retried with its key gets the first answer; without it, the rows are duplicates.
    let retried = api.import_clients(batch("batch-1", rows.clone())).await.expect("retry").into_inner();
    assert_eq!(retried, answer);
    let again = api.import_clients(batch("batch-2", rows)).await.expect("again").into_inner();
    assert_eq!(outcomes(&again)[0], Outcome::Duplicate);
    assert_eq!(again.results[0].client_id, ruta_id);
    assert_eq!(total(&mut api).await, 2, "importing the same rows twice changes nothing");
}

#[tokio::test]
async fn a_dry_run_answers_the_same_and_writes_nothing() {
    let app = start().await;
    let mut api = admin(&app);
    let request = pb::ImportClientsRequest {
        validate_only: true,
        ..batch("dry", vec![row("Eglė", "egle@example.lt"), row("Bad", "not an email")])
    };
    let answer = api.import_clients(request).await.expect("dry run").into_inner();
    assert_eq!(outcomes(&answer), [Outcome::Created, Outcome::Invalid]);
    assert_eq!(total(&mut api).await, 0, "a dry run writes nothing");
    let real = api.import_clients(batch("real", vec![row("Eglė", "egle@example.lt")])).await.expect("real");
    assert_eq!(outcomes(&real.into_inner()), [Outcome::Created], "the key of a dry run is not spent");
}

#[tokio::test]
async fn phones_match_when_they_are_the_key() {
    let app = start().await;
    let mut api = admin(&app);
    let jonas = add(&mut api, "Jonas", "Telefonas", "+37061200009").await;
    let by_phone = pb::Client { phone: "8 612 00009".into(), ..row("Jonas", "jonas@example.lt") };
    let by_email = api.import_clients(batch("e", vec![by_phone.clone()])).await.expect("email key").into_inner();
    assert_eq!(outcomes(&by_email), [Outcome::Created], "phones are not unique: by email it is a new client");
    let phone_only = pb::Client { phone: "+370 612 00009".into(), ..row("Jonas", "") };
    let known = api.import_clients(batch("po", vec![phone_only])).await.expect("phone only").into_inner();
    assert_eq!(outcomes(&known), [Outcome::Duplicate], "a row without an email is known by its phone");
    let request = pb::ImportClientsRequest { match_key: pb::MatchKey::Phone as i32, ..batch("p", vec![by_phone]) };
    let matched = api.import_clients(request).await.expect("phone key").into_inner();
    assert_eq!(outcomes(&matched), [Outcome::Duplicate]);
    assert_eq!(matched.results[0].client_id, by_email.results[0].client_id, "the email matches first");
    let other = pb::Client { phone: "+37061200009".into(), ..row("Jonas", "") };
    let request = pb::ImportClientsRequest { match_key: pb::MatchKey::Phone as i32, ..batch("q", vec![other]) };
    let matched = api.import_clients(request).await.expect("phone key").into_inner();
    assert!(
        [jonas.id.as_str(), by_email.results[0].client_id.as_str()].contains(&matched.results[0].client_id.as_str()),
        "matched one of the two holders of the phone"
    );
    assert_eq!(matched.results[0].violations[0].field, "phone");
}

#[tokio::test]
async fn importing_needs_its_right_and_a_scoped_token_imports_into_its_stores_only() {
    let app = start().await;
    let mut api = admin(&app);
    add_store(&mut api, "VLN-01").await;
    add_store(&mut api, "KNS-01").await;
    let mut writer = client(&app, &app.token(TENANT, &["clients.write", "clients.read"]));
    let denied = writer.import_clients(batch("x", vec![row("Ona", "ona@example.lt")])).await;
    assert_eq!(denied.expect_err("no import right").code(), Code::PermissionDenied);

    let token = app.store_token(TENANT, &["clients.import", "clients.read"], &["VLN-01"]);
    let mut scoped = client(&app, &token);
    let elsewhere = pb::Client { registration_store_id: "KNS-01".into(), ..row("Kaunietė", "k@example.lt") };
    let unknown = pb::Client { registration_store_id: "NOPE".into(), ..row("Niekur", "n@example.lt") };
    let answer = scoped
        .import_clients(batch("s", vec![row("Vilnietė", "v@example.lt"), elsewhere, unknown]))
        .await
        .expect("scoped import")
        .into_inner();
    assert_eq!(outcomes(&answer), [Outcome::Created, Outcome::Invalid, Outcome::Invalid]);
    assert_eq!(answer.results[1].violations[0].field, "registration_store_id");
    let vilniete =
        api.get_client(pb::GetClientRequest { client_id: answer.results[0].client_id.clone() }).await.expect("get");
    assert_eq!(vilniete.into_inner().registration_store_id, "VLN-01", "a scoped import registers in its store");

    // Another tenant's clients never match.
    let mut other = client(&app, &app.admin_token("globex"));
    let theirs = other.import_clients(batch("g", vec![row("Vilnietė", "v@example.lt")])).await.expect("globex");
    assert_eq!(outcomes(&theirs.into_inner()), [Outcome::Created]);
}

#[tokio::test]
async fn oversized_batches_and_unknown_keys_are_refused_whole() {
    let app = start().await;
    let mut api = admin(&app);
    let rows: Vec<pb::Client> = (0..1001).map(|i| row("Many", &format!("m{i}@example.lt"))).collect();
    let err = api.import_clients(batch("big", rows)).await.expect_err("too many");
    assert_eq!(fields(&err), ["clients"]);
    let request = pb::ImportClientsRequest { match_key: 99, ..batch("k", vec![row("Ona", "ona@example.lt")]) };
    assert_eq!(fields(&api.import_clients(request).await.expect_err("bad key")), ["match_key"]);
    assert_eq!(total(&mut api).await, 0);
}
