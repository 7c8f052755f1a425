//! CL-7: quick search and lists.
mod support;

use loyalty_api::client::v1 as pb;
use loyalty_api::common::v1::PageRequest;
use support::*;

fn names(r: &pb::ListClientsResponse) -> Vec<String> {
    let mut n: Vec<String> = r.clients.iter().map(|c| c.full_name.clone()).collect();
    n.sort();
    n
}

#[tokio::test]
async fn names_are_found_in_part_without_case_or_accents() {
    let app = start().await;
    let mut api = admin(&app);
    add(&mut api, "Šarūnas", "Kazlauskas", "+37061200001").await;
    add(&mut api, "Łukasz", "Wiśniewski", "+48512000001").await;
    add(&mut api, "Ștefan", "Rădulescu", "+40721000001").await;
    add(&mut api, "Алёна", "Иванова", "+79120000001").await;
    assert_eq!(names(&search(&mut api, "sarunas").await), vec!["Šarūnas Kazlauskas"]);
    assert_eq!(names(&search(&mut api, "SARŪN").await), vec!["Šarūnas Kazlauskas"]);
    assert_eq!(names(&search(&mut api, "kazl sar").await), vec!["Šarūnas Kazlauskas"], "all words, any order");
    assert_eq!(names(&search(&mut api, "lukasz").await), vec!["Łukasz Wiśniewski"]);
    assert_eq!(names(&search(&mut api, "radul").await), vec!["Ștefan Rădulescu"]);
    assert_eq!(names(&search(&mut api, "алена").await), vec!["Алёна Иванова"]);
    assert!(search(&mut api, "nobody").await.clients.is_empty());
}

#[tokio::test]
async fn emails_phones_and_ids_are_found_and_terms_combine_with_or() {
    let app = start().await;
    let mut api = admin(&app);
    let mut ona = person("Ona", "Butkutė", "+37061234567");
    ona.email = "ona.butkute@example.lt".into();
    let ona = api.create_client(create(ona)).await.expect("ona").into_inner();
    let jonas = add(&mut api, "Jonas", "Jankauskas", "+37069876543").await;
    add(&mut api, "Rūta", "Stankevičiūtė", "+37061111111").await;

    assert_eq!(names(&search(&mut api, "ona.butkute@example.lt").await), vec!["Ona Butkutė"], "exact email");
    assert_eq!(names(&search(&mut api, "@example.lt").await), vec!["Ona Butkutė"], "partial email");
    assert_eq!(names(&search(&mut api, "+370 698-765-43").await), vec!["Jonas Jankauskas"], "phone with punctuation");
    assert_eq!(names(&search(&mut api, "98765").await), vec!["Jonas Jankauskas"], "part of a phone");
    assert_eq!(names(&search(&mut api, &jonas.id).await), vec!["Jonas Jankauskas"], "client id");
    let both = search(&mut api, &format!("{}\n8 (698) 76543", ona.id)).await;
    assert_eq!(names(&both), vec!["Jonas Jankauskas", "Ona Butkutė"]);
    assert_eq!(both.page.expect("page").total_size, 2);
    let semicolons = search(&mut api, "butkut;stankev").await;
    assert_eq!(names(&semicolons), vec!["Ona Butkutė", "Rūta Stankevičiūtė"]);
}

#[tokio::test]
async fn paging_neither_repeats_nor_skips_while_clients_are_added() {
    let app = start().await;
    let mut api = admin(&app);
    for i in 0..25 {
        add(&mut api, "Vardas", &format!("Pavardė{i:02}"), &format!("+3706120{i:04}")).await;
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = api
            .list_clients(pb::ListClientsRequest {
                page: Some(PageRequest { page_size: 10, page_token: token.clone() }),
                ..Default::default()
            })
            .await
            .expect("page")
            .into_inner();
        assert!(page.page.as_ref().map(|p| p.total_size).unwrap_or(0) >= 25);
        seen.extend(page.clients.iter().map(|c| c.id.clone()));
        // Newer clients arrive between pages; they sort first and must not shift what follows.
        add(&mut api, "Naujas", &format!("Klientas{pages}"), &format!("+3706190{pages:04}")).await;
        pages += 1;
        token = page.page.expect("page").next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 25, "the 25 clients that existed, each once");
    let unique: std::collections::HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), 25);
}

#[tokio::test]
async fn lists_sort_by_a_column_with_a_stable_tie_break_and_tokens_belong_to_their_query() {
    let app = start().await;
    let mut api = admin(&app);
    for (first, last) in [("Ona", "Žukauskaitė"), ("Ieva", "Butkutė"), ("Eglė", "Butkutė"), ("Rūta", "Kazlauskienė")]
    {
        add(&mut api, first, last, &format!("+37061{:06}", first.len() * 1000 + last.len())).await;
    }
    let list = |order: &str, size: i32, token: String| pb::ListClientsRequest {
        order_by: order.into(),
        page: Some(PageRequest { page_size: size, page_token: token }),
        ..Default::default()
    };
    let all = api.list_clients(list("last_name, first_name desc", 10, String::new())).await.expect("list").into_inner();
    let order: Vec<_> = all.clients.iter().map(|c| c.full_name.as_str()).collect();
    assert_eq!(order, vec!["Ieva Butkutė", "Eglė Butkutė", "Rūta Kazlauskienė", "Ona Žukauskaitė"]);
    let first =
        api.list_clients(list("last_name, first_name desc", 2, String::new())).await.expect("list").into_inner();
    let token = first.page.expect("page").next_page_token;
    let second =
        api.list_clients(list("last_name, first_name desc", 2, token.clone())).await.expect("list").into_inner();
    let order: Vec<_> = second.clients.iter().map(|c| c.full_name.as_str()).collect();
    assert_eq!(order, vec!["Rūta Kazlauskienė", "Ona Žukauskaitė"]);
    let err = api.list_clients(list("city", 2, token)).await.expect_err("token of another ordering");
    assert_eq!(fields(&err), vec!["page.page_token"]);
    let err = api.list_clients(list("password", 2, String::new())).await.expect_err("unknown column");
    assert_eq!(fields(&err), vec!["order_by"]);
}

#[tokio::test]
async fn a_read_mask_returns_only_the_chosen_columns() {
    let app = start().await;
    let mut api = admin(&app);
    add(&mut api, "Ona", "Kazlauskienė", "+37061200001").await;
    let r = api
        .list_clients(pb::ListClientsRequest { read_mask: mask(&["full_name", "phone"]), ..Default::default() })
        .await
        .expect("list")
        .into_inner();
    let c = &r.clients[0];
    assert_eq!((c.full_name.as_str(), c.phone.as_str()), ("Ona Kazlauskienė", "+37061200001"));
    assert!(c.first_name.is_empty() && c.registered_at.is_none() && !c.id.is_empty());
    let by_phone =
        pb::ListClientsRequest { query: "+37061200001".into(), read_mask: mask(&["email"]), ..Default::default() };
    let found = api.list_clients(by_phone).await.expect("exact lookup").into_inner();
    assert_eq!((found.clients.len(), found.page.expect("page").total_size), (1, 1));
    assert!(found.clients[0].last_name.is_empty(), "an exact lookup keeps to the mask too");
    let unknown = pb::ListClientsRequest { read_mask: mask(&["full_name", "password"]), ..Default::default() };
    let err = api.list_clients(unknown).await.expect_err("an unknown field");
    assert_eq!(fields(&err), vec!["read_mask"]);
    assert!(err.message().contains("password") || format!("{err:?}").contains("password"), "{err:?}");
}

/// Every field a mask can name, on a client that has one of everything: asking for all of them
/// answers exactly what an unmasked list answers.
#[tokio::test]
async fn a_mask_of_every_field_reads_the_whole_client() {
    let app = start().await;
    let mut api = admin(&app);
    let mut ona = person("Ona", "Kazlauskienė", "8 612 00001");
    ona.middle_name = "Marija".into();
    ona.email = "ona@example.lt".into();
    ona.birth_date = Some(loyalty_api::common::v1::Date { year: 1980, month: 5, day: 17 });
    ona.custom_attributes = [(
        "shoe_size".to_string(),
        loyalty_api::common::v1::AttributeValue {
            value: Some(loyalty_api::common::v1::attribute_value::Value::Integer(38)),
        },
    )]
    .into();
    ona.children = vec![pb::Child { name: "Ieva".into(), ..Default::default() }];
    ona.utm = Some(pb::Utm { source: "google".into(), ..Default::default() });
    ona.additional_keys = vec!["k1".into()];
    ona.anonymous_ids = vec!["cookie-1".into()];
    let ona = api.create_client(create(ona)).await.expect("ona").into_inner();
    let dup = add(&mut api, "Onutė", "Kazlauskienė", "+37061200002").await;
    let consent = pb::ChannelConsent {
        channel: loyalty_api::common::v1::ContactChannel::Sms as i32,
        status: loyalty_api::common::v1::ConsentStatus::Subscribed as i32,
        ..Default::default()
    };
    let consents = pb::SetConsentRequest { client_id: ona.id.clone(), consents: vec![consent], ..Default::default() };
    api.set_consent(consents).await.expect("consent");
    let tag = pb::Tag { name: "vip".into(), ..Default::default() };
    let tag =
        api.create_tag(pb::CreateTagRequest { tag: Some(tag), ..Default::default() }).await.expect("tag").into_inner();
    let tagging =
        pb::ModifyClientTagsRequest { client_id: ona.id.clone(), add_tag_ids: vec![tag.id], ..Default::default() };
    api.modify_client_tags(tagging).await.expect("tagged");
    let merge = pb::MergeClientsRequest {
        survivor_client_id: ona.id.clone(),
        merged_client_ids: vec![dup.id],
        ..Default::default()
    };
    api.merge_clients(merge).await.expect("merged");
    let block =
        pb::BlockClientRequest { client_id: ona.id.clone(), comment: "Card fraud".into(), ..Default::default() };
    api.block_client(block).await.expect("blocked");

    let every_field = [
        "id",
        "etag",
        "first_name",
        "last_name",
        "middle_name",
        "full_name",
        "email",
        "phone",
        "identified",
        "phone_original",
        "phone_verified",
        "birth_date",
        "gender",
        "address",
        "city",
        "region",
        "notes",
        "car_number",
        "additional_keys",
        "custom_attributes",
        "children",
        "registration_store_id",
        "added_by",
        "registered_at",
        "updated_at",
        "utm",
        "referrer_client_id",
        "source_channel",
        "anonymous_ids",
        "status",
        "block",
        "personal_data_consent",
        "third_party_transfer_consent",
        "erased",
        "tag_ids",
        "merged_client_ids",
        "consents",
    ];
    for query in ["", "ona@example.lt", "kazlausk", &ona.id] {
        let list = |read_mask| pb::ListClientsRequest { query: query.into(), read_mask, ..Default::default() };
        let whole = api.list_clients(list(None)).await.expect("unmasked").into_inner().clients;
        let masked = api.list_clients(list(mask(&every_field))).await.expect("masked").into_inner().clients;
        assert_eq!(masked, whole, "query {query:?}");
        assert!(!whole[0].tag_ids.is_empty() && !whole[0].merged_client_ids.is_empty() && whole[0].block.is_some());
    }
}

/// Exact terms (here five ids) paged two at a time: every page counts all five, and the pages
/// together hold each client once, with only the masked fields.
#[tokio::test]
async fn exact_lookups_page_with_a_total_on_every_page() {
    let app = start().await;
    let mut api = admin(&app);
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(add(&mut api, "Jonas", &format!("Petraitis{i}"), &format!("+3706130000{i}")).await.id);
    }
    add(&mut api, "Jonas", "Kitas", "+37061300009").await;
    let (mut seen, mut token, mut pages) = (Vec::new(), String::new(), 0);
    loop {
        let request = pb::ListClientsRequest {
            query: ids.join(";"),
            page: Some(PageRequest { page_size: 2, page_token: token.clone() }),
            read_mask: mask(&["last_name"]),
            ..Default::default()
        };
        let page = api.list_clients(request).await.expect("page").into_inner();
        assert_eq!(page.page.as_ref().map(|p| p.total_size), Some(5), "page {pages}");
        assert!(page.clients.iter().all(|c| c.first_name.is_empty() && c.last_name.starts_with("Petraitis")));
        seen.extend(page.clients.iter().map(|c| c.id.clone()));
        pages += 1;
        token = page.page.expect("page").next_page_token;
        if token.is_empty() {
            break;
        }
    }
    seen.sort();
    ids.sort();
    assert_eq!((pages, seen), (3, ids));
}
