//! Saved segments through gRPC, as a CRM team and the messaging service use them: membership that
//! follows the data and is published as entered/left (without a flood when a segment is created),
//! sizes per day, segments naming segments (cycles refused, a used segment kept), snapshots and
//! manual lists, and the right, tenant, store scope and etag of every write.
mod suite;
use futures::StreamExt;
use loyalty_api::events::v1::{WatchEventsRequest, event::Payload};
use loyalty_api::filter::v1::{Audience, audience::Source};
use loyalty_api::segment::v1 as pb;
use loyalty_testkit::support::{self, Segments, TENANT, fields};
use std::time::Duration;
use suite::{OTHER, admin, buy, count, town};
use tonic::Code;

/// A filter in its text form.
async fn conditions(api: &mut Segments, text: &str) -> Option<loyalty_api::filter::v1::Filter> {
    api.parse_filter(pb::ParseFilterRequest { filter_text: text.into() }).await.expect("parses").into_inner().filter
}

async fn create(
    api: &mut Segments,
    name: &str,
    kind: pb::SegmentKind,
    text: Option<&str>,
    announce: bool,
) -> pb::Segment {
    let filter = match text {
        Some(t) => conditions(api, t).await,
        None => None,
    };
    let segment =
        pb::Segment { name: name.into(), kind: kind as i32, filter, colour: "#2E7D32".into(), ..Default::default() };
    api.create_segment(pb::CreateSegmentRequest { segment: Some(segment), announce_initial_members: announce })
        .await
        .unwrap_or_else(|e| panic!("creating {name}: {e}"))
        .into_inner()
}

/// Every membership event published so far, as (segment, client, entered).
async fn published(api: &mut Segments) -> Vec<(String, String, bool)> {
    let replay = WatchEventsRequest { replay_only: true, ..Default::default() };
    let events: Vec<_> = api.watch_events(replay).await.expect("the segment feed").into_inner().collect().await;
    events
        .into_iter()
        .filter_map(|e| match e.expect("an event").payload {
            Some(Payload::SegmentMembershipChanged(m)) => Some((m.segment_id, m.client_id, m.entered)),
            _ => None,
        })
        .collect()
}

/// Waits until the events of `segment` are `expected` (in any order: one publication lists its
/// members in the model's order).
async fn wait_for(api: &mut Segments, segment: &str, expected: &[(&str, bool)]) {
    let mut seen = Vec::new();
    for _ in 0..200 {
        seen = published(api).await.into_iter().filter(|(s, _, _)| s == segment).map(|(_, c, e)| (c, e)).collect();
        if seen.len() >= expected.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut want: Vec<(String, bool)> = expected.iter().map(|(c, e)| (c.to_string(), *e)).collect();
    want.sort();
    seen.sort();
    assert_eq!(seen, want, "membership events of {segment}");
}

fn audience(segment: &str) -> Option<Audience> {
    Some(Audience { source: Some(Source::SegmentId(segment.into())) })
}

#[tokio::test]
async fn membership_follows_purchases_and_is_published_as_entered_and_left_without_a_flood() {
    let t = town().await;
    let mut api = admin(&t.app);
    let big = create(&mut api, "Big spenders", pb::SegmentKind::Dynamic, Some("purchases.sum >= 80.00"), false).await;
    let small = create(
        &mut api,
        "Small spenders",
        pb::SegmentKind::Dynamic,
        Some("purchases.sum between 1.00 and 79.99"),
        true,
    )
    .await;
    assert_eq!((big.size, small.size), (1, 1), "Ona spent 100.00, Jonas 50.00");
    assert_eq!(big.etag, "v1");
    // The small spenders asked to announce their first member, the big spenders did not.
    wait_for(&mut api, &small.id, &[(&t.jonas, true)]).await;
    // Jonas spends 40.00 more: he leaves the small spenders and enters the big ones.
    buy(&t.app, &t.jonas, "VLN-01", 4_000, "s-1").await;
    wait_for(&mut api, &big.id, &[(&t.jonas, true)]).await;
    wait_for(&mut api, &small.id, &[(&t.jonas, true), (&t.jonas, false)]).await;
    assert_eq!(count(&mut api, audience(&big.id)).await.expect("count"), 2);
    let read = api.get_segment(pb::GetSegmentRequest { segment_id: big.id.clone() }).await.expect("get").into_inner();
    assert_eq!((read.size, read.name.as_str(), read.colour.as_str()), (2, "Big spenders", "#2e7d32"));
    assert!(read.facts_as_of.is_some());
    // The size is kept per day; the figures are the period's.
    let m = recorded_sizes(&mut api, &big.id, &[2]).await;
    assert_eq!((m.size, m.purchases, m.revenue.map(|r| r.minor_units)), (2, 3, Some(19_000)));
    assert_eq!(m.average_check.map(|r| r.minor_units), Some(6_333));
}

/// Waits until the sizes recorded for `segment` over the last 30 days are `expected`.
async fn recorded_sizes(api: &mut Segments, segment: &str, expected: &[i64]) -> pb::SegmentMetrics {
    let mut sizes = Vec::new();
    for _ in 0..100 {
        let request = pb::GetSegmentMetricsRequest { segment_id: segment.into(), period: None };
        let m = api.get_segment_metrics(request).await.expect("metrics").into_inner();
        sizes = m.sizes.iter().map(|s| s.size).collect();
        if sizes == expected {
            return m;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("sizes of {segment}: {sizes:?}, expected {expected:?}");
}

#[tokio::test]
async fn segments_name_segments_cycles_are_refused_and_a_used_segment_is_kept() {
    let t = town().await;
    let mut api = admin(&t.app);
    let vilnius =
        create(&mut api, "Vilnius", pb::SegmentKind::Dynamic, Some(r#"client.city = "Vilnius""#), false).await;
    let text = format!(r#"segments any of ("{}") or purchases.sum >= 40.00"#, vilnius.id);
    let wider = create(&mut api, "Vilnius or buyers", pb::SegmentKind::Dynamic, Some(&text), false).await;
    assert_eq!(wider.size, 2, "Ona and Jonas");
    assert_eq!(count(&mut api, audience(&wider.id)).await.expect("count"), 2);
    let read = api.get_segment(pb::GetSegmentRequest { segment_id: vilnius.id.clone() }).await.expect("get");
    assert_eq!(read.into_inner().used_by_segment_ids, vec![wider.id.clone()]);
    // Vilnius naming its user would be a cycle.
    let cycle = format!(r#"segments any of ("{}")"#, wider.id);
    let update = pb::UpdateSegmentRequest {
        segment: Some(pb::Segment {
            id: vilnius.id.clone(),
            filter: conditions(&mut api, &cycle).await,
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask { paths: vec!["filter".into()] }),
    };
    let refused = api.update_segment(update).await.expect_err("a cycle");
    assert_eq!((refused.code(), fields(&refused)), (Code::InvalidArgument, vec!["segment.filter".to_string()]));
    assert!(refused.message().contains("cycle"), "{}", refused.message());
    // A segment another names is not deleted; the user goes first, then it may.
    let kept = api.delete_segment(pb::DeleteSegmentRequest { segment_id: vilnius.id.clone() }).await.expect_err("used");
    assert_eq!(kept.code(), Code::FailedPrecondition);
    assert!(kept.message().contains("Vilnius or buyers"), "names the user: {}", kept.message());
    api.delete_segment(pb::DeleteSegmentRequest { segment_id: wider.id.clone() }).await.expect("unused");
    api.delete_segment(pb::DeleteSegmentRequest { segment_id: vilnius.id.clone() }).await.expect("now unused");
    let gone = api.get_segment(pb::GetSegmentRequest { segment_id: vilnius.id.clone() }).await.expect_err("deleted");
    assert_eq!(gone.code(), Code::NotFound);
    // A filter naming a segment that does not exist is refused by field.
    let unknown = create_err(&mut api, pb::SegmentKind::Dynamic, &cycle).await;
    assert_eq!((unknown.code(), fields(&unknown)), (Code::InvalidArgument, vec!["segment.filter".to_string()]));
    let counted = api.count_clients(pb::CountClientsRequest { audience: audience(&vilnius.id) }).await;
    assert_eq!(counted.expect_err("deleted").code(), Code::NotFound);
}

/// What messaging publishes about a campaign, applied through the segment's own feed handler, as
/// the consumer of the messaging feed applies it.
async fn campaign(app: &loyalty_testkit::TestApp, id: &str, state: &str, segment_ids: &[String]) {
    use loyalty_platform::feed::ApplyEvent;
    let pool = loyalty_platform::db::pool(&app.settings.database, "segment").expect("pool");
    let mut conn = pool.get().await.expect("connection");
    let tx = conn.transaction().await.expect("transaction");
    let changed = loyalty_api::events::v1::CampaignChanged {
        campaign_id: id.into(),
        name: "Spring newsletter".into(),
        state: state.into(),
        segment_ids: segment_ids.to_vec(),
    };
    let event = loyalty_api::events::v1::Event {
        tenant_id: TENANT.into(),
        subject_id: id.into(),
        payload: Some(Payload::CampaignChanged(changed)),
        ..Default::default()
    };
    loyalty_segment::feed::Facts.apply(&tx, &event).await.expect("applied");
    tx.commit().await.expect("committed");
}

#[tokio::test]
async fn a_segment_a_running_campaign_uses_is_kept_until_the_campaign_ends() {
    let t = town().await;
    let mut api = admin(&t.app);
    let vilnius =
        create(&mut api, "Vilnius", pb::SegmentKind::Dynamic, Some(r#"client.city = "Vilnius""#), false).await;
    campaign(&t.app, "cmp-1", "running", std::slice::from_ref(&vilnius.id)).await;
    let delete = || pb::DeleteSegmentRequest { segment_id: vilnius.id.clone() };
    let kept = api.delete_segment(delete()).await.expect_err("a campaign uses it");
    assert_eq!(kept.code(), Code::FailedPrecondition);
    assert!(kept.message().contains("Spring newsletter"), "names the campaign: {}", kept.message());
    campaign(&t.app, "cmp-1", "completed", std::slice::from_ref(&vilnius.id)).await;
    api.delete_segment(delete()).await.expect("a completed campaign no longer holds it");
}

async fn create_err(api: &mut Segments, kind: pb::SegmentKind, text: &str) -> tonic::Status {
    let segment = pb::Segment {
        name: "Refused".into(),
        kind: kind as i32,
        filter: conditions(api, text).await,
        ..Default::default()
    };
    api.create_segment(pb::CreateSegmentRequest { segment: Some(segment), ..Default::default() })
        .await
        .expect_err("refused")
}

#[tokio::test]
async fn snapshots_stay_frozen_until_refreshed_and_manual_lists_take_ids_and_phones() {
    let t = town().await;
    let mut api = admin(&t.app);
    let snapshot =
        create(&mut api, "Kaunas in March", pb::SegmentKind::Static, Some(r#"client.city = "Kaunas""#), false).await;
    assert_eq!(snapshot.size, 2);
    assert!(snapshot.snapshot_at.is_some());
    let person = suite::person("Rūta", loyalty_api::client::v1::Gender::Female, "Kaunas", "KNS-01", "+37061200509");
    let ruta = suite::client(&t.app, TENANT, person).await;
    suite::settle(&t.app, TENANT, 4).await;
    let read = api.get_segment(pb::GetSegmentRequest { segment_id: snapshot.id.clone() }).await.expect("get");
    assert_eq!(read.into_inner().size, 2, "a snapshot does not follow the data");
    let refreshed =
        api.refresh_segment(pb::RefreshSegmentRequest { segment_id: snapshot.id.clone() }).await.expect("refresh");
    assert_eq!(refreshed.into_inner().size, 3);
    let edit = api.modify_segment_members(pb::ModifySegmentMembersRequest {
        segment_id: snapshot.id.clone(),
        add_client_ids: vec![t.ona.clone()],
        ..Default::default()
    });
    assert_eq!(edit.await.expect_err("a snapshot is not edited").code(), Code::FailedPrecondition);

    let list = create(&mut api, "Call back", pb::SegmentKind::Static, None, false).await;
    assert_eq!(list.size, 0);
    recorded_sizes(&mut api, &list.id, &[0]).await; // published empty
    // Phones typed the local way; an unknown phone refuses the whole edit.
    let bad = pb::ModifySegmentMembersRequest {
        segment_id: list.id.clone(),
        add_client_ids: vec![t.ona.clone()],
        add_phones: vec!["861200502".into(), "+37060000000".into()],
        ..Default::default()
    };
    let refused = api.modify_segment_members(bad).await.expect_err("unknown phone");
    assert_eq!(fields(&refused), ["add_phones[1]"]);
    let unchanged = api.get_segment(pb::GetSegmentRequest { segment_id: list.id.clone() }).await.expect("get");
    assert_eq!((unchanged.get_ref().size, unchanged.get_ref().etag.as_str()), (0, "v1"), "nothing changed");
    let good = pb::ModifySegmentMembersRequest {
        segment_id: list.id.clone(),
        add_client_ids: vec![t.ona.clone(), ruta.clone()],
        add_phones: vec!["8 612 00502".into()],
        etag: "v1".into(),
        ..Default::default()
    };
    let edited = api.modify_segment_members(good).await.expect("edit").into_inner();
    assert_eq!((edited.size, edited.etag.as_str()), (3, "v2"));
    // Manual edits are published too (what changes between two passes of the publisher is one change).
    wait_for(&mut api, &list.id, &[(&ruta, true), (&t.ona, true), (&t.jonas, true)]).await;
    let stale = pb::ModifySegmentMembersRequest {
        segment_id: list.id.clone(),
        remove_client_ids: vec![ruta.clone()],
        etag: "v1".into(),
        ..Default::default()
    };
    assert_eq!(api.modify_segment_members(stale).await.expect_err("stale").code(), Code::Aborted);
    let remove = pb::ModifySegmentMembersRequest {
        segment_id: list.id.clone(),
        remove_client_ids: vec![ruta.clone()],
        ..Default::default()
    };
    assert_eq!(api.modify_segment_members(remove).await.expect("remove").into_inner().size, 2);
    wait_for(&mut api, &list.id, &[(&ruta, true), (&t.ona, true), (&t.jonas, true), (&ruta, false)]).await;
    let _ = t.egle;
}

#[tokio::test]
async fn rights_tenant_store_scope_etags_and_bad_input() {
    let t = town().await;
    let mut api = admin(&t.app);
    let everyone =
        create(&mut api, "Everyone in town", pb::SegmentKind::Dynamic, Some("client.status = \"member\""), false).await;
    assert_eq!(everyone.size, 3);
    // Reading is not writing.
    let mut reader = support::segments(&t.app, &t.app.token(TENANT, &["segments.read"]));
    assert_eq!(
        reader.list_segments(pb::ListSegmentsRequest::default()).await.expect("list").into_inner().segments.len(),
        1
    );
    let denied = reader
        .create_segment(pb::CreateSegmentRequest {
            segment: Some(pb::Segment { name: "x".into(), kind: pb::SegmentKind::Static as i32, ..Default::default() }),
            ..Default::default()
        })
        .await
        .expect_err("no right");
    assert_eq!(denied.code(), Code::PermissionDenied);
    // Another tenant sees nothing of it.
    let mut other = support::segments(&t.app, &t.app.admin_token(OTHER));
    let hidden = other.get_segment(pb::GetSegmentRequest { segment_id: everyone.id.clone() }).await.expect_err("other");
    assert_eq!(hidden.code(), Code::NotFound);
    assert!(
        other.list_segments(pb::ListSegmentsRequest::default()).await.expect("list").into_inner().segments.is_empty()
    );
    // A Kaunas token counts only Kaunas clients (registered or bought there): Jonas and Eglė.
    let mut kaunas = support::segments(&t.app, &t.app.store_token(TENANT, &["segments.read"], &["KNS-01"]));
    let seen = kaunas.get_segment(pb::GetSegmentRequest { segment_id: everyone.id.clone() }).await.expect("get");
    assert_eq!(seen.into_inner().size, 2);
    assert_eq!(count(&mut kaunas, audience(&everyone.id)).await.expect("count"), 2);
    // A Kaunas token cannot put a Vilnius client on a list.
    let mut kaunas_writer =
        support::segments(&t.app, &t.app.store_token(TENANT, &["segments.read", "segments.write"], &["KNS-01"]));
    let list = create(&mut kaunas_writer, "Kaunas list", pb::SegmentKind::Static, None, false).await;
    let outside = pb::ModifySegmentMembersRequest {
        segment_id: list.id.clone(),
        add_client_ids: vec![t.ona.clone()],
        ..Default::default()
    };
    assert_eq!(
        fields(&kaunas_writer.modify_segment_members(outside).await.expect_err("outside")),
        ["add_client_ids[0]"]
    );
    // Bad input, each refused by field, nothing saved.
    let bad = |name: &str, colour: &str, kind: pb::SegmentKind| pb::CreateSegmentRequest {
        segment: Some(pb::Segment {
            name: name.into(),
            colour: colour.into(),
            kind: kind as i32,
            ..Default::default()
        }),
        ..Default::default()
    };
    let cases = [
        (bad("", "", pb::SegmentKind::Static), "segment.name"),
        (bad("Green", "green", pb::SegmentKind::Static), "segment.colour"),
        (bad("Nul\0", "", pb::SegmentKind::Static), "segment.name"),
        (bad(&"x".repeat(100_000), "", pb::SegmentKind::Static), "segment.name"),
        (bad("VIP", "", pb::SegmentKind::Automatic), "segment.kind"),
        (bad("VIP", "", pb::SegmentKind::Unspecified), "segment.kind"),
        (bad("No conditions", "", pb::SegmentKind::Dynamic), "segment.filter"),
    ];
    for (request, field) in cases {
        let refused = api.create_segment(request).await.expect_err("bad input");
        assert_eq!((refused.code(), fields(&refused)), (Code::InvalidArgument, vec![field.to_string()]), "{field}");
    }
    let taken = api.create_segment(bad("everyone IN TOWN", "", pb::SegmentKind::Static)).await.expect_err("taken");
    assert_eq!(taken.code(), Code::AlreadyExists);
    assert_eq!(
        api.list_segments(pb::ListSegmentsRequest::default()).await.expect("list").into_inner().segments.len(),
        2
    );
    // An update with a stale etag is refused; with the current one it lands.
    let rename = |etag: &str| pb::UpdateSegmentRequest {
        segment: Some(pb::Segment {
            id: everyone.id.clone(),
            name: "Active".into(),
            etag: etag.into(),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask { paths: vec!["name".into()] }),
    };
    let renamed = api.update_segment(rename("v1")).await.expect("rename").into_inner();
    assert_eq!((renamed.name.as_str(), renamed.etag.as_str()), ("Active", "v2"));
    assert_eq!(api.update_segment(rename("v1")).await.expect_err("stale").code(), Code::Aborted);
    let bad_id = api.get_segment(pb::GetSegmentRequest { segment_id: "1; DROP TABLE segments".into() }).await;
    assert_eq!(fields(&bad_id.expect_err("not an id")), ["segment_id"]);
}

#[tokio::test]
async fn time_relative_conditions_are_evaluated_again_when_the_tenant_s_day_turns() {
    let clock = loyalty_platform::clock::ManualClock::starting_at(time::OffsetDateTime::now_utc());
    let app = suite::start_with_clock(std::sync::Arc::new(clock.clone())).await;
    let person = suite::person("Ona", loyalty_api::client::v1::Gender::Female, "Vilnius", "", "+37061200501");
    let ona = suite::client(&app, TENANT, person).await;
    suite::settle(&app, TENANT, 1).await;
    let mut api = admin(&app);
    let joined =
        create(&mut api, "Joined today", pb::SegmentKind::Dynamic, Some("client.days_in_programme = 0"), false).await;
    assert_eq!(joined.size, 1);
    // Nothing about Ona changes; tomorrow she is no longer new.
    recorded_sizes(&mut api, &joined.id, &[1]).await; // the first members are published
    clock.advance(time::Duration::days(1));
    wait_for(&mut api, &joined.id, &[(&ona, false)]).await;
    let read = api.get_segment(pb::GetSegmentRequest { segment_id: joined.id.clone() }).await.expect("get");
    assert_eq!(read.into_inner().size, 0);
}
