//! CL-6: tags on one client and on many at once.
mod support;

use loyalty_api::client::v1 as pb;
use loyalty_api::client::v1::bulk_edit_tags_request::{Mode, Target};
use support::*;
use tonic::Code;

async fn tag(api: &mut Client, name: &str) -> pb::Tag {
    let t = pb::Tag { name: name.into(), colour: "#ff8800".into(), ..Default::default() };
    api.create_tag(pb::CreateTagRequest { tag: Some(t), ..Default::default() }).await.expect("tag").into_inner()
}

async fn tags_of(api: &mut Client, id: &str) -> Vec<String> {
    let mut t = api.get_client(pb::GetClientRequest { client_id: id.into() }).await.expect("get").into_inner().tag_ids;
    t.sort();
    t
}

fn bulk(mode: Mode, target: Target, tags: &[&pb::Tag]) -> pb::BulkEditTagsRequest {
    pb::BulkEditTagsRequest {
        mode: mode as i32,
        target: Some(target),
        tag_ids: tags.iter().map(|t| t.id.clone()).collect(),
        ..Default::default()
    }
}

fn ids(clients: &[&pb::Client]) -> Target {
    Target::ClientIds(pb::ClientIdList { ids: clients.iter().map(|c| c.id.clone()).collect() })
}

#[tokio::test]
async fn tags_are_created_renamed_recoloured_and_deleted() {
    let app = start().await;
    let mut api = admin(&app);
    let vip = tag(&mut api, "VIP").await;
    assert_eq!(vip.colour, "#FF8800");
    let dup = api
        .create_tag(pb::CreateTagRequest {
            tag: Some(pb::Tag { name: "vip".into(), ..Default::default() }),
            ..Default::default()
        })
        .await;
    assert_eq!(dup.expect_err("same name").code(), Code::AlreadyExists);
    let bad = api
        .create_tag(pb::CreateTagRequest {
            tag: Some(pb::Tag { name: "x".into(), colour: "red".into(), ..Default::default() }),
            ..Default::default()
        })
        .await;
    assert_eq!(fields(&bad.expect_err("bad colour")), vec!["tag.colour"]);

    let renamed = api
        .update_tag(pb::UpdateTagRequest {
            tag: Some(pb::Tag {
                id: vip.id.clone(),
                name: "Gold".into(),
                colour: "#00ff00".into(),
                ..Default::default()
            }),
            update_mask: mask(&["name", "colour"]),
            ..Default::default()
        })
        .await
        .expect("renamed")
        .into_inner();
    assert_eq!((renamed.name.as_str(), renamed.colour.as_str()), ("Gold", "#00FF00"));

    let c = add(&mut api, "Ona", "Kazlauskienė", "+37061200001").await;
    let modify = pb::ModifyClientTagsRequest {
        client_id: c.id.clone(),
        add_tag_ids: vec![vip.id.clone()],
        ..Default::default()
    };
    assert_eq!(api.modify_client_tags(modify).await.expect("tagged").into_inner().tag_ids, vec![vip.id.clone()]);
    let listed = api.list_tags(pb::ListTagsRequest {}).await.expect("list").into_inner().tags;
    assert_eq!(listed.iter().map(|t| (t.name.as_str(), t.client_count)).collect::<Vec<_>>(), vec![("Gold", 1)]);

    let deleted = api
        .delete_tag(pb::DeleteTagRequest { tag_id: vip.id.clone(), ..Default::default() })
        .await
        .expect("deleted")
        .into_inner();
    assert_eq!(deleted.clients_untagged, 1);
    assert!(tags_of(&mut api, &c.id).await.is_empty());
}

#[tokio::test]
async fn bulk_add_remove_and_replace_report_what_changed() {
    let app = start().await;
    let mut api = admin(&app);
    let a = tag(&mut api, "A").await;
    let b = tag(&mut api, "B").await;
    let c = tag(&mut api, "C").await;
    let one = add(&mut api, "Ona", "Vienaitė", "+37061200001").await;
    let two = add(&mut api, "Jonas", "Dviejus", "+37061200002").await;
    let three = add(&mut api, "Rūta", "Trečiokė", "+37061200003").await;

    let r = api.bulk_edit_tags(bulk(Mode::Add, ids(&[&one, &two]), &[&a])).await.expect("add").into_inner();
    assert_eq!((r.matched, r.changed), (2, 2));
    let r =
        api.bulk_edit_tags(bulk(Mode::Add, ids(&[&one, &two, &three]), &[&a])).await.expect("add again").into_inner();
    assert_eq!((r.matched, r.changed), (3, 1), "only the untagged one changes");

    let r = api.bulk_edit_tags(bulk(Mode::Add, ids(&[&one]), &[&b])).await.expect("add b").into_inner();
    assert_eq!(r.changed, 1);
    let r = api.bulk_edit_tags(bulk(Mode::Replace, ids(&[&one, &two]), &[&c])).await.expect("replace").into_inner();
    assert_eq!((r.matched, r.changed), (2, 2));
    assert_eq!(tags_of(&mut api, &one.id).await, vec![c.id.clone()]);
    assert_eq!(tags_of(&mut api, &three.id).await, vec![a.id.clone()]);

    let r = api
        .bulk_edit_tags(bulk(Mode::Remove, Target::Query("trečiok".into()), &[&a]))
        .await
        .expect("by query")
        .into_inner();
    assert_eq!((r.matched, r.changed), (1, 1));
    assert!(tags_of(&mut api, &three.id).await.is_empty());

    let unknown = pb::Tag { id: uuid::Uuid::now_v7().to_string(), ..Default::default() };
    let err = api.bulk_edit_tags(bulk(Mode::Add, ids(&[&one]), &[&unknown])).await.expect_err("unknown tag");
    assert_eq!(fields(&err), vec!["tag_ids"]);
    assert_eq!(tags_of(&mut api, &one.id).await, vec![c.id.clone()], "a refused bulk edit changes nothing");
}
