//! CL-11, LE-11-style retries, concurrency and the event feed, through the real server.
mod support;

use futures::StreamExt;
use loyalty_api::client::v1 as pb;
use loyalty_api::events::v1::{WatchEventsRequest, event::Payload};
use support::*;
use tonic::Code;

#[tokio::test]
async fn another_tenants_client_looks_like_it_does_not_exist() {
    let app = start().await;
    let mut acme = admin(&app);
    let mut globex = client(&app, &app.admin_token("globex"));
    let c = add(&mut acme, "Ona", "Kazlauskienė", "+37061200001").await;

    let get = globex.get_client(pb::GetClientRequest { client_id: c.id.clone() }).await;
    assert_eq!(get.expect_err("hidden").code(), Code::NotFound);
    let block = pb::BlockClientRequest { client_id: c.id.clone(), comment: "x".into(), ..Default::default() };
    assert_eq!(globex.block_client(block).await.expect_err("hidden").code(), Code::NotFound);
    let update = pb::UpdateClientRequest {
        client: Some(pb::Client { id: c.id.clone(), first_name: "Hacked".into(), ..Default::default() }),
        update_mask: mask(&["first_name"]),
        ..Default::default()
    };
    assert_eq!(globex.update_client(update).await.expect_err("hidden").code(), Code::NotFound);
    assert_eq!(search(&mut globex, "Kazlauskienė").await.clients.len(), 0);
    assert_eq!(search(&mut globex, &c.id).await.clients.len(), 0);
    let unchanged = acme.get_client(pb::GetClientRequest { client_id: c.id.clone() }).await.expect("own").into_inner();
    assert_eq!((unchanged.first_name.as_str(), unchanged.status), ("Ona", c.status));
}

#[tokio::test]
async fn a_store_scoped_token_sees_only_its_stores_clients() {
    let app = start().await;
    let mut admin_api = admin(&app);
    add_store(&mut admin_api, "VLN-01").await;
    add_store(&mut admin_api, "KNS-01").await;
    let mut in_vilnius = person("Ona", "Vilnietė", "+37061200001");
    in_vilnius.registration_store_id = "VLN-01".into();
    let vilnius = admin_api.create_client(create(in_vilnius)).await.expect("vln").into_inner();
    let mut in_kaunas = person("Jonas", "Kaunietis", "+37061200002");
    in_kaunas.registration_store_id = "KNS-01".into();
    let kaunas = admin_api.create_client(create(in_kaunas)).await.expect("kns").into_inner();

    let token = app.store_token(TENANT, &["clients.read", "clients.write"], &["VLN-01"]);
    let mut cashier = client(&app, &token);
    let listed = search(&mut cashier, "").await;
    assert_eq!(listed.clients.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), vec![vilnius.id.as_str()]);
    assert_eq!(listed.page.expect("page").total_size, 1);
    cashier.get_client(pb::GetClientRequest { client_id: vilnius.id.clone() }).await.expect("own store");
    let other = cashier.get_client(pb::GetClientRequest { client_id: kaunas.id.clone() }).await;
    assert_eq!(other.expect_err("other store").code(), Code::NotFound);

    let registered = add(&mut cashier, "Rūta", "Naujokė", "+37061200003").await;
    assert_eq!(registered.registration_store_id, "VLN-01", "a cashier registers clients in their store");
    let mut elsewhere = person("Eglė", "Kitur", "+37061200004");
    elsewhere.registration_store_id = "KNS-01".into();
    let err = cashier.create_client(create(elsewhere)).await.expect_err("outside scope");
    assert_eq!(fields(&err), vec!["client.registration_store_id"]);
}

#[tokio::test]
async fn rights_are_checked_per_call_and_a_refused_write_changes_nothing() {
    let app = start().await;
    let mut reader = client(&app, &app.token(TENANT, &["clients.read"]));
    let err = reader.create_client(create(person("Ona", "Skaitytoja", "+37061200001"))).await.expect_err("read only");
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(total(&mut admin(&app)).await, 0);
    let mut nobody = pb::client_service_client::ClientServiceClient::new(app.channel());
    let err = nobody.list_clients(pb::ListClientsRequest::default()).await.expect_err("no token");
    assert_eq!(err.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn concurrent_updates_of_different_fields_lose_nothing() {
    let app = start().await;
    let mut api = admin(&app);
    let c = add(&mut api, "Ona", "Lygiagreti", "+37061200001").await;
    let fields = ["city", "region", "notes", "car_number", "address", "source_channel", "middle_name", "first_name"];
    let calls = fields.iter().enumerate().map(|(i, field)| {
        let mut api = admin(&app);
        let id = c.id.clone();
        let value = format!("value-{i}");
        let mut client = pb::Client { id, ..Default::default() };
        match *field {
            "city" => client.city = value,
            "region" => client.region = value,
            "notes" => client.notes = value,
            "car_number" => client.car_number = value,
            "address" => client.address = value,
            "source_channel" => client.source_channel = value,
            "middle_name" => client.middle_name = value,
            _ => client.first_name = value,
        }
        async move {
            let req =
                pb::UpdateClientRequest { client: Some(client), update_mask: mask(&[field]), ..Default::default() };
            api.update_client(req).await.expect("update")
        }
    });
    futures::future::join_all(calls).await;
    let got = api.get_client(pb::GetClientRequest { client_id: c.id.clone() }).await.expect("get").into_inner();
    let values = [
        &got.city,
        &got.region,
        &got.notes,
        &got.car_number,
        &got.address,
        &got.source_channel,
        &got.middle_name,
        &got.first_name,
    ];
    for (i, v) in values.iter().enumerate() {
        assert_eq!(**v, format!("value-{i}"), "{} was lost", fields[i]);
    }
    assert_eq!(got.phone, "+37061200001");
    assert_eq!(got.etag, "v9", "eight updates, each applied once");
}

#[tokio::test]
async fn a_retried_create_with_the_same_key_registers_one_client() {
    let app = start().await;
    let mut api = admin(&app);
    let request = || pb::CreateClientRequest {
        client: Some(person("Ona", "Pakartotinė", "+37061200001")),
        context: with_key("pos-7-receipt-1234"),
        ..Default::default()
    };
    let calls = (0..16).map(|_| {
        let mut api = admin(&app);
        async move { api.create_client(request()).await.expect("same answer").into_inner() }
    });
    let answers = futures::future::join_all(calls).await;
    assert!(answers.iter().all(|a| *a == answers[0]), "every retry gets the first answer");
    assert_eq!(total(&mut api).await, 1);

    let mut different = request();
    different.client = Some(person("Kitas", "Žmogus", "+37061200002"));
    let err = api.create_client(different).await.expect_err("key reused for another body");
    assert_eq!(err.code(), Code::AlreadyExists);
    assert_eq!(total(&mut api).await, 1);
}

#[tokio::test]
async fn every_change_is_on_the_feed_of_its_tenant_only() {
    let app = start().await;
    let mut api = admin(&app);
    let c = add(&mut api, "Ona", "Įvykių", "+37061200001").await;
    api.block_client(pb::BlockClientRequest { client_id: c.id.clone(), comment: "test".into(), ..Default::default() })
        .await
        .expect("block");
    add(&mut client(&app, &app.admin_token("globex")), "Kito", "Nuomininko", "+37061200002").await;

    let replay = WatchEventsRequest { after_sequence: 0, kinds: vec![], replay_only: true };
    let events: Vec<_> = api.watch_events(replay.clone()).await.expect("watch").into_inner().collect().await;
    let kinds: Vec<&str> =
        events.iter().map(|e| e.as_ref().expect("event").payload.as_ref().expect("payload").kind()).collect();
    assert_eq!(kinds, vec!["client_upserted", "client_blocked"]);
    let first = events[0].as_ref().expect("event");
    assert_eq!(
        (first.tenant_id.as_str(), first.subject_id.as_str(), first.source.as_str()),
        (TENANT, c.id.as_str(), "client")
    );
    assert!(
        matches!(&first.payload, Some(Payload::ClientUpserted(u)) if u.last_name == "Įvykių" && u.phone == "+37061200001")
    );
    assert!(events.windows(2).all(|w| w[0].as_ref().expect("e").sequence < w[1].as_ref().expect("e").sequence));
}
