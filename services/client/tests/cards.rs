//! CL-2, CL-7 with the card service: a card number instead of a phone, and finding a client by card.
mod support;

use loyalty_api::card::v1 as cards;
use loyalty_api::card::v1::card_service_client::CardServiceClient;
use loyalty_api::client::v1 as pb;
use support::*;

fn with_card(first: &str, number: &str) -> pb::CreateClientRequest {
    pb::CreateClientRequest {
        client: Some(pb::Client { first_name: first.into(), last_name: "Kortelinė".into(), ..Default::default() }),
        card_number: number.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_card_number_can_stand_in_for_the_phone_and_finds_the_client() {
    let app = start().await;
    let mut api = admin(&app);
    let created = api.create_client(with_card("Ona", "79927398713")).await.expect("created with a card").into_inner();
    assert!(created.phone.is_empty());
    let mut card_api = CardServiceClient::new(app.authed(&app.admin_token(TENANT)));
    let lookup = cards::LookupCardRequest {
        key: Some(cards::lookup_card_request::Key::Number("79927398713".into())),
        ..Default::default()
    };
    let held = card_api.lookup_card(lookup).await.expect("the card was issued").into_inner();
    assert_eq!(held.client_id, created.id);

    let found = search(&mut api, "7992739 8713").await;
    assert_eq!(
        found.clients.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        vec![created.id.as_str()],
        "found by card number"
    );

    // With a card, the phone may go.
    let update = pb::UpdateClientRequest {
        client: Some(pb::Client { id: created.id.clone(), ..Default::default() }),
        update_mask: mask(&["phone"]),
        ..Default::default()
    };
    api.update_client(update).await.expect("no phone is fine for a card holder");
}

#[tokio::test]
async fn a_taken_or_malformed_card_number_is_refused_and_leaves_no_client() {
    let app = start().await;
    let mut api = admin(&app);
    api.create_client(with_card("Ona", "79927398713")).await.expect("first");
    let taken = api.create_client(with_card("Rūta", "79927398713")).await.expect_err("taken");
    assert_eq!(fields(&taken), vec!["card_number"]);
    let bad = api.create_client(with_card("Eglė", "79927398710")).await.expect_err("bad check digit");
    assert_eq!(fields(&bad), vec!["card_number"]);
    assert_eq!(total(&mut api).await, 1, "refused registrations leave no client behind");
    let neither = api.create_client(with_card("Ieva", "")).await.expect_err("neither phone nor card");
    assert_eq!(fields(&neither), vec!["client.phone"]);
}
