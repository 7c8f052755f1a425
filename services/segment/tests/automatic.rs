//! The built-in segments and the RFM grid through gRPC, as a CRM team and the messaging service
//! use them: well-known ids that work wherever a segment id does, membership events when a
//! purchase moves a client, settings with an etag that only the whole chain's admin may change,
//! and the right, tenant and store scope of every answer.
mod suite;
use futures::StreamExt;
use loyalty_api::events::v1::{WatchEventsRequest, event::Payload};
use loyalty_api::filter::v1::{Audience, audience::Source};
use loyalty_api::segment::v1 as pb;
use loyalty_testkit::support::{self, Segments, TENANT, fields};
use std::time::Duration;
use suite::{OTHER, admin, buy, count, filter, town};
use tonic::Code;

/// The built-in segments as `api`'s caller sees them, once the tenant's thresholds are computed.
async fn built_in(api: &mut Segments) -> pb::ListAutomaticSegmentsResponse {
    until(api, |_| true).await
}

/// The built-in segments once `ready` holds of them (the thresholds follow the facts within a
/// second in these tests).
async fn until(
    api: &mut Segments,
    ready: impl Fn(&pb::ListAutomaticSegmentsResponse) -> bool,
) -> pb::ListAutomaticSegmentsResponse {
    let mut last = None;
    for _ in 0..200 {
        let listed = api.list_automatic_segments(pb::ListAutomaticSegmentsRequest { language: "lt".into() }).await;
        if let Ok(l) = listed {
            let l = l.into_inner();
            if l.thresholds.is_some() && ready(&l) {
                return l;
            }
            last = Some(l);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the built-in segments never got there; last seen: {last:?}");
}

fn size(listed: &pb::ListAutomaticSegmentsResponse, id: &str) -> i64 {
    listed.segments.iter().find(|s| s.id == id).map(|s| s.size).unwrap_or_else(|| panic!("{id} is not listed"))
}

fn audience(segment: &str) -> Option<Audience> {
    Some(Audience { source: Some(Source::SegmentId(segment.into())) })
}

#[tokio::test]
async fn built_in_segments_answer_like_saved_ones_within_the_caller_s_stores() {
    let t = town().await;
    let mut api = admin(&t.app);
    let computed = |l: &pb::ListAutomaticSegmentsResponse| {
        l.thresholds.as_ref().is_some_and(|t| t.average_purchases_milli == 1_000) && size(l, "auto:big_spenders") == 1
    };
    let listed = until(&mut api, computed).await;
    assert_eq!(listed.segments.len(), 32, "21 automatic and 11 RFM segments");
    // Ona bought 100.00, Jonas 50.00, Eglė nothing; all three joined today.
    for (id, expected) in [
        ("auto:spenders", 2),
        ("auto:prospects", 1),
        ("auto:active", 2),
        ("auto:new", 3),
        ("auto:one_time", 2),
        ("auto:big_spenders", 1),
        ("auto:sleeping", 0),
        ("auto:vip", 0),
    ] {
        assert_eq!(size(&listed, id), expected, "{id}");
    }
    let thresholds = listed.thresholds.clone().expect("thresholds");
    assert_eq!(thresholds.big_from.map(|m| m.minor_units), Some(10_000), "the top 20 % of two spenders is Ona");
    assert_eq!(thresholds.average_purchases_milli, 1_000);
    assert!(thresholds.computed_at.is_some());
    let active = listed.segments.iter().find(|s| s.id == "auto:active").expect("active");
    assert_eq!(active.name, "Aktyvūs", "named in the language asked");
    assert_eq!(active.filter_text, "purchases.last_at days ago between 0 and 29");
    // The ids work wherever a segment id does.
    let spenders = api.get_segment(pb::GetSegmentRequest { segment_id: "auto:spenders".into() }).await.expect("get");
    let spenders = spenders.into_inner();
    assert_eq!(
        (spenders.id.as_str(), spenders.kind, spenders.size),
        ("auto:spenders", pb::SegmentKind::Automatic as i32, 2)
    );
    assert_eq!(count(&mut api, audience("auto:big_spenders")).await.expect("audience"), 1);
    let named = filter(&mut api, r#"segments any of ("auto:prospects")"#).await;
    assert_eq!(count(&mut api, named).await.expect("filter"), 1);
    let rfm = api.get_segment(pb::GetSegmentRequest { segment_id: "rfm:champions".into() }).await.expect("rfm");
    assert_eq!(rfm.into_inner().kind, pb::SegmentKind::Rfm as i32);
    // Listed by kind only; the tenant's own list stays its own.
    let own = api.list_segments(pb::ListSegmentsRequest::default()).await.expect("list").into_inner();
    assert!(own.segments.is_empty());
    let automatic = pb::ListSegmentsRequest { kinds: vec![pb::SegmentKind::Automatic as i32] };
    assert_eq!(api.list_segments(automatic).await.expect("list").into_inner().segments.len(), 21);
    // Built in: never changed or deleted as a segment.
    let deleted = api.delete_segment(pb::DeleteSegmentRequest { segment_id: "auto:vip".into() }).await;
    assert_eq!(deleted.expect_err("built in").code(), Code::FailedPrecondition);
    let renamed = pb::UpdateSegmentRequest {
        segment: Some(pb::Segment { id: "auto:vip".into(), name: "Mine".into(), ..Default::default() }),
        update_mask: Some(prost_types::FieldMask { paths: vec!["name".into()] }),
    };
    assert_eq!(api.update_segment(renamed).await.expect_err("built in").code(), Code::FailedPrecondition);
    // A Kaunas token counts Kaunas clients only (Jonas and Eglė registered there).
    let mut kaunas = support::segments(&t.app, &t.app.store_token(TENANT, &["segments.read"], &["KNS-01"]));
    let scoped = built_in(&mut kaunas).await;
    assert_eq!((size(&scoped, "auto:spenders"), size(&scoped, "auto:prospects")), (1, 1));
    // Another tenant: its own clients (Zita), its own thresholds.
    let mut other = support::segments(&t.app, &t.app.admin_token(OTHER));
    let theirs = built_in(&mut other).await;
    assert_eq!((size(&theirs, "auto:prospects"), size(&theirs, "auto:spenders")), (1, 0));
    // The right: segments.read.
    let mut nobody = support::segments(&t.app, &t.app.token(TENANT, &["clients.read"]));
    let denied = nobody.list_automatic_segments(pb::ListAutomaticSegmentsRequest::default()).await;
    assert_eq!(denied.expect_err("no right").code(), Code::PermissionDenied);
}

/// Every membership event of `segment` published so far, as (client, entered).
async fn published(api: &mut Segments, segment: &str) -> Vec<(String, bool)> {
    let replay = WatchEventsRequest { replay_only: true, ..Default::default() };
    let events: Vec<_> = api.watch_events(replay).await.expect("the segment feed").into_inner().collect().await;
    events
        .into_iter()
        .filter_map(|e| match e.expect("an event").payload {
            Some(Payload::SegmentMembershipChanged(m)) if m.segment_id == segment => Some((m.client_id, m.entered)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_first_purchase_moves_a_prospect_into_the_spenders_with_events_under_the_well_known_ids() {
    let t = town().await;
    let mut api = admin(&t.app);
    built_in(&mut api).await;
    // Eglė is not a spender; what was published about her so far says so (if anything).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let about_egle = |events: Vec<(String, bool)>| events.into_iter().filter(|(c, _)| *c == t.egle).collect::<Vec<_>>();
    assert!(about_egle(published(&mut api, "auto:spenders").await).is_empty());
    let before = about_egle(published(&mut api, "auto:prospects").await);
    assert!(before.iter().all(|(_, entered)| *entered), "she only ever entered the prospects");
    buy(&t.app, &t.egle, "KNS-01", 2_000, "auto-1").await;
    let mut events = (Vec::new(), Vec::new());
    for _ in 0..200 {
        events = (
            about_egle(published(&mut api, "auto:spenders").await),
            about_egle(published(&mut api, "auto:prospects").await)[before.len()..].to_vec(),
        );
        if !events.0.is_empty() && !events.1.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(events.0, [(t.egle.clone(), true)], "entered the spenders");
    assert_eq!(events.1, [(t.egle.clone(), false)], "left the prospects, once");
}

#[tokio::test]
async fn settings_change_the_definitions_with_an_etag_and_only_for_the_whole_chain() {
    let t = town().await;
    let mut api = admin(&t.app);
    built_in(&mut api).await;
    let current = api.get_automatic_segment_settings(pb::GetAutomaticSegmentSettingsRequest {}).await.expect("get");
    let current = current.into_inner();
    assert_eq!((current.etag.as_str(), current.active_days, current.sleeping_days), ("v0", 30, 90));
    assert_eq!(current.vip_monthly_spend.map(|m| (m.minor_units, m.currency)), Some((50_000, "EUR".to_string())));
    let change = |settings: pb::AutomaticSegmentSettings, paths: &[&str]| pb::UpdateAutomaticSegmentSettingsRequest {
        settings: Some(settings),
        update_mask: Some(prost_types::FieldMask { paths: paths.iter().map(|p| p.to_string()).collect() }),
    };
    let seven = pb::AutomaticSegmentSettings { active_days: 7, ..Default::default() };
    // A store's token may not change the chain's settings; a reader may not either.
    let mut kaunas =
        support::segments(&t.app, &t.app.store_token(TENANT, &["settings.write", "segments.read"], &["KNS-01"]));
    let scoped = kaunas.update_automatic_segment_settings(change(seven.clone(), &["active_days"])).await;
    assert_eq!(scoped.expect_err("store token").code(), Code::PermissionDenied);
    let mut reader = support::segments(&t.app, &t.app.token(TENANT, &["segments.read"]));
    let read_only = reader.update_automatic_segment_settings(change(seven.clone(), &["active_days"])).await;
    assert_eq!(read_only.expect_err("reader").code(), Code::PermissionDenied);
    // Bad values are refused by field, every one at once, and change nothing.
    let bad = pb::AutomaticSegmentSettings { active_days: 0, big_spender_share_bp: 20_000, ..Default::default() };
    let refused =
        api.update_automatic_segment_settings(change(bad, &["active_days", "big_spender_share_bp", "colour"])).await;
    let refused = refused.expect_err("bad values");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(fields(&refused), ["settings.active_days", "settings.big_spender_share_bp", "update_mask"]);
    let empty = api.update_automatic_segment_settings(change(seven.clone(), &[])).await;
    assert_eq!(fields(&empty.expect_err("no mask")), ["update_mask"]);
    let stale = pb::AutomaticSegmentSettings { etag: "v7".into(), ..seven.clone() };
    let aborted = api.update_automatic_segment_settings(change(stale, &["active_days"])).await;
    assert_eq!(aborted.expect_err("stale").code(), Code::Aborted);
    // The change: the definition follows at once, the other fields keep their values.
    let fresh = pb::AutomaticSegmentSettings { etag: "v0".into(), ..seven };
    let saved = api.update_automatic_segment_settings(change(fresh, &["active_days"])).await.expect("update");
    let saved = saved.into_inner();
    assert_eq!((saved.etag.as_str(), saved.active_days, saved.sleeping_days), ("v1", 7, 90));
    let listed = built_in(&mut api).await;
    let active = listed.segments.iter().find(|s| s.id == "auto:active").expect("active");
    assert_eq!(active.filter_text, "purchases.last_at days ago between 0 and 6");
    assert_eq!(active.size, 2);
    // Another tenant keeps the defaults.
    let mut other = support::segments(&t.app, &t.app.admin_token(OTHER));
    let theirs = other.get_automatic_segment_settings(pb::GetAutomaticSegmentSettingsRequest {}).await.expect("get");
    assert_eq!(theirs.into_inner().active_days, 30);
}

#[tokio::test]
async fn the_rfm_grid_counts_scored_clients_with_its_boundaries_and_refuses_a_bad_day() {
    let t = town().await;
    let mut api = admin(&t.app);
    built_in(&mut api).await;
    let mut grid = pb::RfmGrid::default();
    for _ in 0..200 {
        grid = api.get_rfm_grid(pb::GetRfmGridRequest::default()).await.expect("grid").into_inner();
        if grid.scored_clients == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(grid.cells.len(), 25);
    assert_eq!(grid.scored_clients, 2, "Ona and Jonas bought");
    assert_eq!(grid.cells.iter().map(|c| c.clients).sum::<i64>(), 2);
    assert_eq!(grid.segments.iter().map(|s| s.clients).sum::<i64>(), 2);
    assert_eq!(grid.monetary_bounds_minor, [5_000, 5_000, 10_000, 10_000]);
    assert_eq!((grid.look_back_days, grid.currency.as_str()), (365, "EUR"));
    assert!(grid.computed_at.is_some() && grid.as_of.is_some());
    let mut kaunas = support::segments(&t.app, &t.app.store_token(TENANT, &["analytics.read"], &["KNS-01"]));
    let scoped = kaunas.get_rfm_grid(pb::GetRfmGridRequest::default()).await.expect("grid").into_inner();
    assert_eq!(scoped.scored_clients, 1, "Jonas only");
    let bad = pb::GetRfmGridRequest { as_of: Some(loyalty_api::common::v1::Date { year: 2026, month: 13, day: 1 }) };
    assert_eq!(fields(&api.get_rfm_grid(bad).await.expect_err("no such day")), ["as_of"]);
    let before = pb::GetRfmGridRequest { as_of: Some(loyalty_api::common::v1::Date { year: 2020, month: 1, day: 1 }) };
    assert_eq!(api.get_rfm_grid(before).await.expect("grid").into_inner().scored_clients, 0, "nobody had bought");
}
