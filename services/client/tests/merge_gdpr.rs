//! CL-8, CL-10: merging duplicates, erasing a person, exporting what is held about them.
mod support;

use loyalty_api::client::v1 as pb;
use loyalty_api::common::v1::{ConsentStatus, ContactChannel, Date};
use support::*;
use tonic::Code;

async fn get(api: &mut Client, id: &str) -> Result<pb::Client, tonic::Status> {
    api.get_client(pb::GetClientRequest { client_id: id.into() }).await.map(|r| r.into_inner())
}

async fn set_consent(api: &mut Client, id: &str, channel: ContactChannel, status: ConsentStatus) {
    let consent = pb::ChannelConsent { channel: channel as i32, status: status as i32, ..Default::default() };
    let req = pb::SetConsentRequest { client_id: id.into(), consents: vec![consent], ..Default::default() };
    api.set_consent(req).await.expect("consent");
}

#[tokio::test]
async fn merging_fills_empty_fields_unites_tags_and_consents_and_redirects_the_merged_id() {
    let app = start().await;
    let mut api = admin(&app);
    let survivor = add(&mut api, "Ona", "Kazlauskienė", "+37061200001").await;
    let mut dup = person("Onutė", "Kazlauskienė", "+37061200002");
    dup.email = "ona@example.lt".into();
    dup.birth_date = Some(Date { year: 1980, month: 5, day: 17 });
    let dup = api.create_client(create(dup)).await.expect("dup").into_inner();

    set_consent(&mut api, &survivor.id, ContactChannel::Sms, ConsentStatus::Subscribed).await;
    set_consent(&mut api, &dup.id, ContactChannel::Email, ConsentStatus::Subscribed).await;
    set_consent(&mut api, &dup.id, ContactChannel::Sms, ConsentStatus::Unsubscribed).await; // newer: wins
    let t = api
        .create_tag(pb::CreateTagRequest {
            tag: Some(pb::Tag { name: "From dup".into(), ..Default::default() }),
            ..Default::default()
        })
        .await
        .expect("tag")
        .into_inner();
    let tag_dup = pb::ModifyClientTagsRequest {
        client_id: dup.id.clone(),
        add_tag_ids: vec![t.id.clone()],
        ..Default::default()
    };
    api.modify_client_tags(tag_dup).await.expect("tag dup");

    let merged = api
        .merge_clients(pb::MergeClientsRequest {
            survivor_client_id: survivor.id.clone(),
            merged_client_ids: vec![dup.id.clone()],
            ..Default::default()
        })
        .await
        .expect("merged")
        .into_inner()
        .survivor
        .expect("survivor");
    assert_eq!(merged.first_name, "Ona", "the survivor keeps its own values");
    assert_eq!(merged.phone, "+37061200001");
    assert_eq!(merged.email, "ona@example.lt", "empty fields are filled from the duplicate");
    assert_eq!(merged.birth_date, Some(Date { year: 1980, month: 5, day: 17 }));
    assert_eq!(merged.tag_ids, vec![t.id.clone()]);
    assert_eq!(merged.merged_client_ids, vec![dup.id.clone()]);
    let consents: Vec<(i32, i32)> = merged.consents.iter().map(|c| (c.channel, c.status)).collect();
    assert_eq!(
        consents,
        vec![
            (ContactChannel::Email as i32, ConsentStatus::Subscribed as i32),
            (ContactChannel::Sms as i32, ConsentStatus::Unsubscribed as i32)
        ]
    );
    let via_old_id = get(&mut api, &dup.id).await.expect("merged id resolves");
    assert_eq!(via_old_id.id, survivor.id);
    assert_eq!(search(&mut api, "onute").await.clients.len(), 0, "the duplicate left the lists");
    let again = api
        .merge_clients(pb::MergeClientsRequest {
            survivor_client_id: survivor.id.clone(),
            merged_client_ids: vec![survivor.id.clone()],
            ..Default::default()
        })
        .await;
    assert_eq!(fields(&again.expect_err("self merge")), vec!["merged_client_ids[0]"]);
}

/// Every text, JSON and binary column of every table in the client schema, searched for `needle`.
async fn places_holding(app: &loyalty_testkit::TestApp, needle: &str) -> Vec<String> {
    let db = sql(app).await;
    let columns = db
        .query(
            "SELECT table_name, column_name, data_type FROM information_schema.columns
             WHERE table_schema = 'client' AND data_type IN ('text', 'jsonb', 'ARRAY', 'bytea')",
            &[],
        )
        .await
        .expect("columns");
    assert!(columns.len() > 20, "the scan sees the schema's columns: {}", columns.len());
    let mut found = Vec::new();
    for c in &columns {
        let (table, column, kind): (String, String, String) = (c.get(0), c.get(1), c.get(2));
        let test = if kind == "bytea" {
            format!("position(convert_to($1, 'UTF8') in {column}) > 0")
        } else {
            format!("{column}::text ILIKE '%' || $1 || '%'")
        };
        let n: i64 = db
            .query_one(&format!("SELECT count(*) FROM client.{table} WHERE {test}"), &[&needle])
            .await
            .expect("scan")
            .get(0);
        if n > 0 {
            found.push(format!("{table}.{column}"));
        }
    }
    found
}

#[tokio::test]
async fn erase_leaves_no_personal_data_in_any_column_of_the_schema() {
    let app = start().await;
    let mut api = admin(&app);
    add_store(&mut api, "VLN-01").await;
    let mut p = person("Žydrūnė", "Vaitkevičiūtė", "+37061277777");
    p.email = "zydrune.v@example.lt".into();
    p.notes = "allergic to peanuts".into();
    p.registration_store_id = "VLN-01".into();
    let c = api
        .create_client(pb::CreateClientRequest {
            client: Some(p),
            context: with_key("erase-me-create"),
            ..Default::default()
        })
        .await
        .expect("created")
        .into_inner();
    set_consent(&mut api, &c.id, ContactChannel::Email, ConsentStatus::Subscribed).await;
    let update = pb::UpdateClientRequest {
        client: Some(pb::Client { id: c.id.clone(), city: "Vaitkevičiūtės g.".into(), ..Default::default() }),
        update_mask: mask(&["city"]),
        ..Default::default()
    };
    api.update_client(update).await.expect("update");
    api.block_client(pb::BlockClientRequest {
        client_id: c.id.clone(),
        comment: "Žydrūnė shouted".into(),
        ..Default::default()
    })
    .await
    .expect("block");
    for needle in ["Žydrūnė", "Vaitkevičiūtė", "zydrune.v@example.lt", "37061277777", "peanuts"] {
        assert!(!places_holding(&app, needle).await.is_empty(), "{needle} is stored before the erase");
    }

    let no_reason = api.erase_client(pb::EraseClientRequest { client_id: c.id.clone(), ..Default::default() }).await;
    assert_eq!(fields(&no_reason.expect_err("reason required")), vec!["reason"]);
    api.erase_client(pb::EraseClientRequest {
        client_id: c.id.clone(),
        reason: "GDPR-2026-117".into(),
        ..Default::default()
    })
    .await
    .expect("erased");

    for needle in ["Žydrūnė", "Vaitkevičiūtė", "zydrune.v@example.lt", "37061277777", "peanuts", "Vaitkevi"] {
        let places = places_holding(&app, needle).await;
        assert!(places.is_empty(), "{needle} is still in {places:?}");
    }
    let stub = get(&mut api, &c.id).await.expect("the anonymised stub stays");
    assert!(stub.erased && stub.first_name.is_empty() && stub.phone.is_empty() && stub.email.is_empty());
    assert_eq!(stub.registration_store_id, "VLN-01", "what is not personal stays");
    let edit = pb::UpdateClientRequest {
        client: Some(pb::Client { id: c.id.clone(), first_name: "Back".into(), ..Default::default() }),
        update_mask: mask(&["first_name"]),
        ..Default::default()
    };
    assert_eq!(api.update_client(edit).await.expect_err("erased").code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn a_person_can_get_everything_held_about_them_as_json() {
    let app = start().await;
    let mut api = admin(&app);
    let c = add(&mut api, "Mantas", "Stankevičius", "+37061200009").await;
    set_consent(&mut api, &c.id, ContactChannel::Sms, ConsentStatus::Subscribed).await;
    let json = api
        .export_client_data(pb::ExportClientDataRequest { client_id: c.id.clone() })
        .await
        .expect("export")
        .into_inner()
        .json;
    let doc: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(doc["profile"]["last_name"], "Stankevičius");
    assert_eq!(doc["consents"][0]["channel"], "sms");
    assert_eq!(doc["history"].as_array().map(Vec::len), Some(2), "created + consent");

    let cashier = client(&app, &app.token(TENANT, &["clients.read"]));
    let mut cashier = cashier;
    let denied = cashier.export_client_data(pb::ExportClientDataRequest { client_id: c.id.clone() }).await;
    assert_eq!(denied.expect_err("needs clients.export").code(), Code::PermissionDenied);
}
