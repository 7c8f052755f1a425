//! CL-1, CL-2: what a valid client is, and how refusals read.
mod support;

use loyalty_api::client::v1 as pb;
use loyalty_api::common::v1::Date;
use support::*;
use tonic::Code;

#[tokio::test]
async fn a_client_needs_a_phone_and_nothing_is_written_without_one() {
    let app = start().await;
    let mut api = admin(&app);
    let err = api.create_client(create(person("Ona", "Kazlauskienė", ""))).await.expect_err("refused");
    assert_eq!(fields(&err), vec!["client.phone"]);
    assert_eq!(total(&mut api).await, 0);
}

#[tokio::test]
async fn every_violation_is_reported_at_once_per_field() {
    let app = start().await;
    let mut api = admin(&app);
    let bad = pb::Client {
        first_name: "x".repeat(101),
        email: "ona(at)example.lt".into(),
        phone: "12".into(),
        birth_date: Some(Date { year: 2999, month: 1, day: 1 }),
        gender: 42,
        additional_keys: vec!["k".into(); 7],
        registration_store_id: "NOPE-1".into(),
        children: vec![pb::Child {
            name: "Ieva".into(),
            birth_date: Some(Date { year: 2020, month: 13, day: 1 }),
            gender: 0,
        }],
        ..Default::default()
    };
    let err = api.create_client(create(bad)).await.expect_err("refused");
    let got = fields(&err);
    for field in [
        "client.first_name",
        "client.email",
        "client.phone",
        "client.birth_date",
        "client.gender",
        "client.additional_keys",
        "client.registration_store_id",
        "client.children[0].birth_date",
    ] {
        assert!(got.contains(&field.to_string()), "{field} missing from {got:?}");
    }
    assert_eq!(total(&mut api).await, 0, "a refused request writes nothing");
}

#[tokio::test]
async fn emails_are_unique_per_tenant_ignoring_case() {
    let app = start().await;
    let mut api = admin(&app);
    let mut first = person("Ona", "Kazlauskienė", "+370 612 34567");
    first.email = "Ona@Example.lt".into();
    let ona = api.create_client(create(first)).await.expect("first").into_inner();
    let mut second = person("Onutė", "Kazlauskienė", "+370 612 99999");
    second.email = "ona@EXAMPLE.LT".into();
    // A taken email alone names the client holding it: a duplicate, not a malformed request.
    let err = api.create_client(create(second.clone())).await.expect_err("duplicate");
    assert_eq!(err.code(), Code::AlreadyExists);
    assert!(err.message().contains(&ona.id), "names the holder: {}", err.message());
    // Beside other problems it is one more violation, and every problem is told at once.
    let mut also_bad = second.clone();
    also_bad.birth_date = Some(loyalty_api::common::v1::Date { year: 2999, month: 1, day: 1 });
    let err = api.create_client(create(also_bad)).await.expect_err("two problems");
    assert_eq!(fields(&err), vec!["client.birth_date", "client.email"]);
    // An update to a taken email is the same duplicate.
    let mut third = person("Aldona", "Kazlauskienė", "+370 612 88888");
    third.email = "aldona@example.lt".into();
    let aldona = api.create_client(create(third)).await.expect("third").into_inner();
    let update = pb::UpdateClientRequest {
        client: Some(pb::Client { id: aldona.id, email: "ONA@example.lt".into(), ..Default::default() }),
        update_mask: Some(prost_types::FieldMask { paths: vec!["email".into()] }),
        ..Default::default()
    };
    assert_eq!(api.update_client(update).await.expect_err("taken").code(), Code::AlreadyExists);
    assert_eq!(total(&mut api).await, 2, "nothing was created by the refused calls");

    // Another tenant may use the same address.
    let mut other = client(&app, &app.admin_token("globex"));
    other.create_client(create(second)).await.expect("other tenant");
}

#[tokio::test]
async fn the_three_spellings_of_a_phone_are_one_number() {
    let app = start().await;
    let mut api = admin(&app);
    for (i, spelling) in ["+370 612 34567", "8 (612) 34567", "37061234567"].iter().enumerate() {
        let c = add(&mut api, "Jonas", &format!("Petrauskas{i}"), spelling).await;
        assert_eq!(c.phone, "+37061234567");
        assert_eq!(c.phone_original, *spelling);
    }
    for spelling in ["+370 612 34567", "8 (612) 34567", "37061234567", "+37061234567"] {
        assert_eq!(search(&mut api, spelling).await.clients.len(), 3, "searching {spelling}");
    }
}

#[tokio::test]
async fn a_birth_date_in_the_future_is_refused_and_today_is_fine() {
    let app = start().await;
    let mut api = admin(&app);
    let today = time::OffsetDateTime::now_utc().date();
    let mut c = person("Greta", "Butkutė", "+37061200001");
    c.birth_date = Some(Date { year: today.year(), month: u8::from(today.month()).into(), day: today.day().into() });
    api.create_client(create(c.clone())).await.expect("born today");
    let next_year = today.year() + 1;
    c.birth_date = Some(Date { year: next_year, month: 1, day: 1 });
    c.phone = "+37061200002".into();
    let err = api.create_client(create(c)).await.expect_err("future");
    assert_eq!(fields(&err), vec!["client.birth_date"]);
}

#[tokio::test]
async fn an_update_is_checked_like_a_create_and_unknown_mask_paths_are_named() {
    let app = start().await;
    let mut api = admin(&app);
    let c = add(&mut api, "Tomas", "Žukauskas", "+37061200003").await;
    let update = |client: pb::Client, paths: &[&str]| pb::UpdateClientRequest {
        client: Some(client),
        update_mask: mask(paths),
        ..Default::default()
    };
    let err = api
        .update_client(update(
            pb::Client { id: c.id.clone(), email: "bad".into(), ..Default::default() },
            &["email", "status", "shoe"],
        ))
        .await
        .expect_err("refused");
    let got = fields(&err);
    assert!(
        got.contains(&"client.email".to_string()) && got.iter().filter(|f| *f == "update_mask").count() == 2,
        "{got:?}"
    );
    let err = api
        .update_client(update(pb::Client { id: c.id.clone(), ..Default::default() }, &["phone"]))
        .await
        .expect_err("phone removed");
    assert_eq!(fields(&err), vec!["client.phone"]);
    let unchanged = api.get_client(pb::GetClientRequest { client_id: c.id.clone() }).await.expect("get").into_inner();
    assert_eq!(unchanged.phone, "+37061200003");
    assert_eq!(unchanged.etag, c.etag, "refused updates change nothing");
}

#[tokio::test]
async fn every_profile_field_round_trips() {
    let app = start().await;
    let mut api = admin(&app);
    add_store(&mut api, "VLN-01").await;
    let referrer = add(&mut api, "Rūta", "Paulauskienė", "+37061200010").await;
    let full = pb::Client {
        first_name: "Aleksandr".into(),
        last_name: "Ivanov".into(),
        middle_name: "Sergeevich".into(),
        email: "a.ivanov@example.lt".into(),
        phone: "8 612 00011".into(),
        phone_verified: true,
        birth_date: Some(Date { year: 1984, month: 2, day: 29 }),
        gender: pb::Gender::Male as i32,
        address: "Gedimino pr. 1".into(),
        city: "Vilnius".into(),
        region: "Vilniaus apskr.".into(),
        notes: "Prefers SMS".into(),
        car_number: "ABC123".into(),
        additional_keys: vec!["k1".into(), "k2".into()],
        custom_attributes: [
            (
                "shoe_size".to_string(),
                loyalty_api::common::v1::AttributeValue {
                    value: Some(loyalty_api::common::v1::attribute_value::Value::Integer(44)),
                },
            ),
            (
                "vip_note".to_string(),
                loyalty_api::common::v1::AttributeValue {
                    value: Some(loyalty_api::common::v1::attribute_value::Value::Text("gold".into())),
                },
            ),
        ]
        .into(),
        children: vec![pb::Child {
            name: "Ieva".into(),
            birth_date: Some(Date { year: 2015, month: 6, day: 1 }),
            gender: pb::Gender::Female as i32,
        }],
        registration_store_id: "VLN-01".into(),
        added_by: pb::AddedBy::Pos as i32,
        utm: Some(pb::Utm {
            source: "google".into(),
            medium: "cpc".into(),
            campaign: "spring".into(),
            content: "ad1".into(),
            term: "shoes".into(),
        }),
        referrer_client_id: referrer.id.clone(),
        source_channel: "android".into(),
        anonymous_ids: vec!["cookie-42".into()],
        ..Default::default()
    };
    let created = api.create_client(create(full.clone())).await.expect("created").into_inner();
    let got = api.get_client(pb::GetClientRequest { client_id: created.id.clone() }).await.expect("get").into_inner();
    assert_eq!(got.full_name, "Aleksandr Sergeevich Ivanov");
    assert_eq!(got.phone, "+37061200011");
    let expected = pb::Client { phone: "+37061200011".into(), ..full };
    assert_eq!(
        (&got.first_name, &got.middle_name, &got.last_name),
        (&expected.first_name, &expected.middle_name, &expected.last_name)
    );
    assert_eq!(
        (got.email, got.phone_verified, got.birth_date, got.gender),
        (expected.email, true, expected.birth_date, expected.gender)
    );
    assert_eq!(
        (got.address, got.city, got.region, got.notes, got.car_number),
        (expected.address, expected.city, expected.region, expected.notes, expected.car_number)
    );
    assert_eq!(
        (got.additional_keys, got.custom_attributes, got.children),
        (expected.additional_keys, expected.custom_attributes, expected.children)
    );
    assert_eq!(
        (got.registration_store_id, got.added_by, got.utm),
        (expected.registration_store_id, expected.added_by, expected.utm)
    );
    assert_eq!(
        (got.referrer_client_id, got.source_channel, got.anonymous_ids),
        (expected.referrer_client_id, expected.source_channel, expected.anonymous_ids)
    );
    assert!(got.identified);
    assert!(got.registered_at.is_some() && got.updated_at.is_some());
    let err = api.get_client(pb::GetClientRequest { client_id: "not-a-uuid".into() }).await.expect_err("bad id");
    assert_eq!(err.code(), Code::InvalidArgument);
}
