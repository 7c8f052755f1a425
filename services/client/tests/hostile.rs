//! What an outside caller may send and what a scoped token may touch: text Postgres cannot store,
//! sizes beyond the documented limits, forged page tokens, empty search terms, tags of clients the
//! token cannot see, and a registration whose card fails after the client was written.
mod support;

use loyalty_api::card::v1 as cards;
use loyalty_api::client::v1 as pb;
use support::*;
use tonic::Code;

#[tokio::test]
async fn text_postgres_cannot_store_and_oversized_text_are_invalid_argument_by_field() {
    let app = start().await;
    let mut api = admin(&app);
    let mut nul = person("Ona\0", "Kortelė", "+37061200301");
    nul.notes = "x".repeat(4_001);
    let mut request = create(nul);
    request.context = with_key("key\0");
    let status = api.create_client(request).await.expect_err("refused");
    assert_eq!(fields(&status), vec!["context.idempotency_key", "client.first_name", "client.notes"]);
    assert!(status.message().contains("NUL") && status.message().contains("4000 characters"), "{}", status.message());
    let query = api.list_clients(pb::ListClientsRequest { query: "Ona\0".into(), ..Default::default() }).await;
    assert_eq!(fields(&query.expect_err("NUL in a query")), vec!["query"]);
    assert_eq!(total(&mut api).await, 0, "nothing was written");
}

#[tokio::test]
async fn a_forged_page_token_and_a_term_of_only_combining_marks_are_invalid_argument() {
    let app = start().await;
    let mut api = admin(&app);
    for i in 0..3 {
        add(&mut api, "Ona", &format!("Vardenė{i}"), &format!("+3706120031{i}")).await;
    }
    let page = |token: &str| pb::ListClientsRequest {
        order_by: "registered_at desc".into(),
        page: Some(loyalty_api::common::v1::PageRequest { page_size: 1, page_token: token.into() }),
        ..Default::default()
    };
    let first = api.list_clients(page("")).await.expect("first page").into_inner();
    let real = first.page.expect("page").next_page_token;
    use base64::Engine;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut token: serde_json::Value = serde_json::from_slice(&engine.decode(&real).expect("base64")).expect("json");
    token["values"] = serde_json::json!(["not a time"]);
    let forged = engine.encode(serde_json::to_vec(&token).expect("json"));
    let status = api.list_clients(page(&forged)).await.expect_err("a forged token");
    assert_eq!(fields(&status), vec!["page.page_token"]);
    let marks = api.list_clients(pb::ListClientsRequest { query: "\u{301}\u{308}".into(), ..Default::default() }).await;
    assert_eq!(fields(&marks.expect_err("only combining marks")), vec!["query"]);
}

#[tokio::test]
async fn a_store_scoped_token_tags_only_the_clients_it_sees_and_counts_only_them() {
    let app = start().await;
    let mut api = admin(&app);
    add_store(&mut api, "VLN-01").await;
    add_store(&mut api, "KNS-01").await;
    let mut here = person("Ona", "Vilnietė", "+37061200321");
    here.registration_store_id = "VLN-01".into();
    let here = api.create_client(create(here)).await.expect("vln").into_inner();
    let mut there = person("Jonas", "Kaunietis", "+37061200322");
    there.registration_store_id = "KNS-01".into();
    let there = api.create_client(create(there)).await.expect("kns").into_inner();
    let vip = api
        .create_tag(pb::CreateTagRequest {
            tag: Some(pb::Tag { name: "VIP".into(), ..Default::default() }),
            ..Default::default()
        })
        .await
        .expect("tag")
        .into_inner();
    let both = pb::ModifyClientTagsRequest {
        client_id: there.id.clone(),
        add_tag_ids: vec![vip.id.clone()],
        ..Default::default()
    };
    api.modify_client_tags(both).await.expect("tagged by the admin");

    let mut cashier = client(&app, &app.store_token(TENANT, &["clients.read", "clients.write"], &["VLN-01"]));
    let elsewhere = pb::ModifyClientTagsRequest {
        client_id: there.id.clone(),
        remove_tag_ids: vec![vip.id.clone()],
        ..Default::default()
    };
    assert_eq!(cashier.modify_client_tags(elsewhere).await.expect_err("unseen client").code(), Code::NotFound);
    let bulk = pb::BulkEditTagsRequest {
        tag_ids: vec![vip.id.clone()],
        mode: pb::bulk_edit_tags_request::Mode::Remove as i32,
        target: Some(pb::bulk_edit_tags_request::Target::ClientIds(pb::ClientIdList { ids: vec![there.id.clone()] })),
        ..Default::default()
    };
    assert_eq!(
        cashier.bulk_edit_tags(bulk).await.expect("bulk").into_inner().changed,
        0,
        "an unseen client is not touched"
    );
    let delete = cashier.delete_tag(pb::DeleteTagRequest { tag_id: vip.id.clone(), ..Default::default() }).await;
    assert_eq!(delete.expect_err("a tenant's tag").code(), Code::PermissionDenied);
    let define =
        pb::CreateTagRequest { tag: Some(pb::Tag { name: "Mine".into(), ..Default::default() }), ..Default::default() };
    assert_eq!(cashier.create_tag(define).await.expect_err("defining tags").code(), Code::PermissionDenied);
    let seen = cashier.list_tags(pb::ListTagsRequest {}).await.expect("tags").into_inner();
    assert_eq!(
        seen.tags.iter().map(|t| t.client_count).collect::<Vec<_>>(),
        vec![0],
        "the Kaunas client is not counted"
    );
    let all = api.list_tags(pb::ListTagsRequest {}).await.expect("tags").into_inner();
    assert_eq!(all.tags[0].client_count, 1);
    // The rest of the profile of an unseen client is out of reach too.
    let history = cashier
        .list_client_history(pb::ListClientHistoryRequest { client_id: there.id.clone(), ..Default::default() })
        .await;
    assert_eq!(history.expect_err("history").code(), Code::NotFound);
    let export = cashier.export_client_data(pb::ExportClientDataRequest { client_id: there.id.clone() }).await;
    assert!(matches!(export.expect_err("export").code(), Code::NotFound | Code::PermissionDenied));
    let merge = pb::MergeClientsRequest {
        survivor_client_id: here.id.clone(),
        merged_client_ids: vec![there.id.clone()],
        ..Default::default()
    };
    assert_eq!(cashier.merge_clients(merge).await.expect_err("merge").code(), Code::NotFound);
}

#[tokio::test]
async fn a_retried_registration_whose_card_failed_is_never_replayed_as_created() {
    let app = start().await;
    let mut api = admin(&app);
    let mut cards_api = loyalty_testkit::support::cards(&app, &app.admin_token(TENANT));
    let rule = cards::NumberingRule { prefix: "77".into(), length: 12, luhn_check_digit: true };
    cards_api
        .update_numbering_rule(cards::UpdateNumberingRuleRequest { rule: Some(rule), ..Default::default() })
        .await
        .expect("rule");
    // A number no card has, whose check digit is wrong: the card service refuses it only when the
    // card is issued, after the client was written.
    let request = pb::CreateClientRequest {
        client: Some(pb::Client { first_name: "Ona".into(), last_name: "Kortelė".into(), ..Default::default() }),
        card_number: "770000000018".into(),
        context: with_key("register-1"),
        ..Default::default()
    };
    for attempt in 0..2 {
        let status = api.create_client(request.clone()).await.expect_err("the card is refused");
        assert_eq!(fields(&status), vec!["card_number"], "attempt {attempt}: never a replayed success");
    }
    assert_eq!(total(&mut api).await, 0, "no client is left without the card it registered with");
}

#[tokio::test]
async fn history_past_the_tenant_s_retention_is_deleted() {
    let app = start().await;
    let mut api = admin(&app);
    let client = add(&mut api, "Ona", "Senoji", "+37061200331").await;
    let settings = pb::UpdateTenantSettingsRequest {
        settings: Some(pb::TenantSettings { history_retention_days: 30, ..Default::default() }),
        update_mask: mask(&["history_retention_days"]),
    };
    api.update_tenant_settings(settings).await.expect("30 days of history");
    let db = sql(&app).await;
    let id = uuid::Uuid::parse_str(&client.id).expect("uuid");
    db.execute("UPDATE history SET at = now() - interval '40 days' WHERE client_id = $1", &[&id])
        .await
        .expect("age it");
    let pool = loyalty_platform::db::pool(&app.settings.database, "client").expect("pool");
    let purged =
        loyalty_client::store::history::purge_past_retention(&pool.get().await.expect("conn")).await.expect("purge");
    assert_eq!(purged, 1, "the creation record, 40 days old, is past the 30 days");
    let history =
        api.list_client_history(pb::ListClientHistoryRequest { client_id: client.id, ..Default::default() }).await;
    assert_eq!(history.expect("history").into_inner().records.len(), 0);
}
