//! Rebuilding the read model from the feeds gives exactly the answers the model built
//! incrementally gave: after purchases, tags, a merge and an erase, every client's facts and every
//! count are the same, no membership event is published again, and only ops.read_models may ask.
mod suite;
use futures::StreamExt;
use loyalty_api::client::v1 as clients;
use loyalty_api::common::v1::{ConsentStatus, ContactChannel};
use loyalty_api::events::v1::{WatchEventsRequest, event::Payload};
use loyalty_api::segment::v1 as pb;
use loyalty_testkit::support::{self, Segments, TENANT, with_key};
use suite::{admin, buy, count, everyone, filter, settle, town};
use tonic::Code;

/// What the dashboard and the points report show (their times of computation aside).
async fn pictures(api: &mut Segments) -> (Vec<pb::Kpi>, Vec<pb::Chart>, Vec<pb::ReportRow>) {
    let d = api.get_dashboard(pb::GetDashboardRequest::default()).await.expect("dashboard").into_inner();
    let points = pb::GetReportRequest { report: pb::ReportKind::PointsBehaviour as i32, period: None };
    let report = api.get_report(points).await.expect("points").into_inner();
    let charts = d.charts.into_iter().map(|c| pb::Chart { computed_at: None, ..c }).collect();
    (d.kpis, charts, report.rows)
}

fn questions(tag: &str) -> Vec<String> {
    vec![
        "purchases.count >= 1".into(),
        "purchases.sum between 40.00 and 200.00".into(),
        r#"client.city = "Kaunas""#.into(),
        format!(r#"tags any of ("{tag}")"#),
        r#"purchase_lines.store none of ("KNS-01")"#.into(),
        "client.days_in_programme = 0".into(),
    ]
}

/// Every client's every fact, and each question's count.
async fn answers(api: &mut Segments, tag: &str) -> (Vec<pb::ClientFacts>, Vec<i64>) {
    let facts: Vec<String> = api
        .list_facts(pb::ListFactsRequest::default())
        .await
        .expect("facts")
        .into_inner()
        .facts
        .into_iter()
        .filter(|f| f.entity == loyalty_api::filter::v1::Entity::Client as i32 && f.name != "segments")
        .map(|f| f.name)
        .collect();
    let request = pb::ListMatchingClientsRequest {
        audience: everyone(),
        facts,
        order_by: "client.full_name".into(),
        ..Default::default()
    };
    let clients = api.list_matching_clients(request).await.expect("page").into_inner().clients;
    let mut counts = Vec::new();
    for q in questions(tag) {
        let audience = filter(api, &q).await;
        counts.push(count(api, audience).await.expect("count"));
    }
    (clients, counts)
}

/// The membership events of `segment` published so far.
async fn membership_events(api: &mut Segments, segment: &str) -> usize {
    let replay = WatchEventsRequest { replay_only: true, ..Default::default() };
    let events: Vec<_> = api.watch_events(replay).await.expect("feed").into_inner().collect().await;
    events
        .iter()
        .filter(|e| {
            matches!(e.as_ref().map(|e| &e.payload), Ok(Some(Payload::SegmentMembershipChanged(m))) if m.segment_id == segment)
        })
        .count()
}

/// Has the built-in segments' thresholds and RFM scores computed at once from the facts the model
/// holds now: saving the settings (unchanged) computes them before it answers.
async fn current_scores(api: &mut Segments) {
    let current = api.get_automatic_segment_settings(pb::GetAutomaticSegmentSettingsRequest {}).await.expect("get");
    let mask = prost_types::FieldMask { paths: vec!["active_days".into()] };
    let request =
        pb::UpdateAutomaticSegmentSettingsRequest { settings: Some(current.into_inner()), update_mask: Some(mask) };
    api.update_automatic_segment_settings(request).await.expect("settings saved, scores computed");
}

/// Whether every buyer has their RFM scores (computed after the facts, not replayed).
fn scored(facts: &[pb::ClientFacts]) -> bool {
    facts.iter().filter(|f| f.facts.contains_key("purchases.first_at")).all(|f| f.facts.contains_key("rfm.segment"))
}

#[tokio::test]
async fn a_rebuild_from_the_feeds_gives_exactly_the_incremental_answers() {
    let t = town().await;
    let mut people = support::clients(&t.app, &t.app.admin_token(TENANT));
    let tag = clients::Tag { name: "VIP".into(), ..Default::default() };
    let tag = people.create_tag(clients::CreateTagRequest { tag: Some(tag), ..Default::default() });
    let tag = tag.await.expect("tag").into_inner().id;
    let tags = clients::ModifyClientTagsRequest {
        context: with_key("tag-1"),
        client_id: t.ona.clone(),
        add_tag_ids: vec![tag.clone()],
        ..Default::default()
    };
    people.modify_client_tags(tags).await.expect("tagged");
    buy(&t.app, &t.egle, "KNS-01", 7_000, "r-1").await;
    let merge = clients::MergeClientsRequest {
        context: with_key("merge-1"),
        survivor_client_id: t.jonas.clone(),
        merged_client_ids: vec![t.egle.clone()],
    };
    people.merge_clients(merge).await.expect("merged");
    let other = suite::person("Rūta", clients::Gender::Female, "Kaunas", "KNS-01", "+37061200509");
    let ruta = suite::client(&t.app, TENANT, other).await;
    let erase = clients::EraseClientRequest { client_id: ruta, reason: "GDPR-8".into(), ..Default::default() };
    people.erase_client(erase).await.expect("erased");
    // Ona subscribed ten days ago (an imported consent keeps its time) and unsubscribed now: the
    // chart of the last 30 days shows both, after a rebuild too.
    let ten_days_ago = time::OffsetDateTime::now_utc() - time::Duration::days(10);
    for (status, at) in [(ConsentStatus::Subscribed, Some(ten_days_ago)), (ConsentStatus::Unsubscribed, None)] {
        let consent = clients::ChannelConsent {
            channel: ContactChannel::Email as i32,
            status: status as i32,
            changed_at: at.map(loyalty_platform::convert::to_timestamp),
            ..Default::default()
        };
        let request =
            clients::SetConsentRequest { client_id: t.ona.clone(), consents: vec![consent], ..Default::default() };
        people.set_consent(request).await.expect("consent");
    }
    settle(&t.app, TENANT, 2).await;
    let mut api = admin(&t.app);
    // Wait for the purchase, the merge, the erase and Ona's consents to arrive: Jonas holds
    // 50.00 + 70.00, the ledger's answer to the merge (his balance with Eglė's points) has come
    // too, and Ona's email consent is her latest word (a snapshot taken before it came would
    // differ from the rebuild for the wrong reason).
    let expected = [2, 2, 1, 1, 0, 2];
    let jonas_points = |facts: &[pb::ClientFacts]| {
        let jonas = facts.iter().find(|f| f.client_id == t.jonas);
        jonas.and_then(|f| f.facts.get("ledger.available").cloned())
    };
    let ona_email = |facts: &[pb::ClientFacts]| {
        let ona = facts.iter().find(|f| f.client_id == t.ona);
        ona.and_then(|f| f.facts.get("consent.email").cloned())
    };
    let mut before = answers(&mut api, &tag).await;
    for _ in 0..200 {
        let settled = jonas_points(&before.0).as_deref() == Some("120")
            && ona_email(&before.0).as_deref() == Some("unsubscribed");
        if before.1 == expected && settled && scored(&before.0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        before = answers(&mut api, &tag).await;
    }
    assert_eq!(before.1, expected, "the incremental answers (the purchases have no lines)");
    assert_eq!(jonas_points(&before.0).as_deref(), Some("120"), "Jonas's points after the merge");
    assert_eq!(ona_email(&before.0).as_deref(), Some("unsubscribed"), "Ona's latest email consent");
    // The spender thresholds and RFM scores are computed from the facts as they stood at the last
    // computation (every `automatic_every_s`), and a rebuild computes them afresh: have them
    // computed now, from every fact, so both sides compare the same computation.
    current_scores(&mut api).await;
    before = answers(&mut api, &tag).await;
    let mut drawn = pictures(&mut api).await;
    for _ in 0..200 {
        let unsubscribed = drawn.0.iter().any(|k| k.kind == pb::KpiKind::EmailUnsubscribed as i32 && k.value == 1);
        if unsubscribed {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        drawn = pictures(&mut api).await;
    }
    let text = "purchases.sum >= 1.00";
    let segment = pb::Segment {
        name: "Buyers".into(),
        kind: pb::SegmentKind::Dynamic as i32,
        filter: api
            .parse_filter(pb::ParseFilterRequest { filter_text: text.into() })
            .await
            .expect("parse")
            .into_inner()
            .filter,
        ..Default::default()
    };
    let segment =
        api.create_segment(pb::CreateSegmentRequest { segment: Some(segment), announce_initial_members: true });
    let segment = segment.await.expect("segment").into_inner();
    while membership_events(&mut api, &segment.id).await < 2 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // Only an operator with ops.read_models rebuilds (an admin's "*" does not grant it).
    let refused = api.rebuild_read_model(pb::RebuildReadModelRequest {}).await.expect_err("not an operator");
    assert_eq!(refused.code(), Code::PermissionDenied);
    let mut operator = support::segments(&t.app, &t.app.token(TENANT, &["ops.read_models"]));
    let progress: Vec<pb::RebuildProgress> = operator
        .rebuild_read_model(pb::RebuildReadModelRequest {})
        .await
        .expect("rebuild")
        .into_inner()
        .map(|p| p.expect("progress"))
        .collect()
        .await;
    let stages: Vec<i32> = progress.iter().map(|p| p.stage).collect();
    assert!(stages.contains(&(pb::rebuild_progress::Stage::Replaying as i32)), "{progress:?}");
    let done = progress.last().expect("a last word");
    assert_eq!(done.stage, pb::rebuild_progress::Stage::Done as i32);
    assert!(done.facts > 0);
    for feed in ["client", "card", "ledger"] {
        assert!(progress.iter().any(|p| p.feed == feed), "replayed {feed}");
    }

    // "Done" is the replay's end; under load the rebuilt model may take a moment more to settle
    // (its scores are recomputed, its followers catch up): wait for it, up to ten seconds.
    let mut after = answers(&mut api, &tag).await;
    let mut redrawn = pictures(&mut api).await;
    for _ in 0..200 {
        if scored(&after.0) && after == before && redrawn == drawn {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        after = answers(&mut api, &tag).await;
        redrawn = pictures(&mut api).await;
    }
    assert_eq!(after.1, before.1, "the same counts");
    assert_eq!(redrawn.0, drawn.0, "the same tiles, 30 days earlier included");
    assert_eq!(redrawn.1, drawn.1, "the same charts (consent and identification history kept)");
    let email = &drawn.1[0].series[0];
    assert_eq!(email.name, "subscribed");
    assert_eq!(email.points.iter().filter(|p| p.value == 1).count(), 10, "subscribed for ten days");
    assert_eq!(redrawn.2, drawn.2, "the same points months");
    assert_eq!(after.0, before.0, "the same facts of every client");
    let read = api.get_segment(pb::GetSegmentRequest { segment_id: segment.id.clone() }).await.expect("segment");
    assert_eq!(read.into_inner().size, 2);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(membership_events(&mut api, &segment.id).await, 2, "nobody entered or left again");
    let rfm_events = membership_events(&mut api, "rfm:new_customers").await;
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    assert_eq!(membership_events(&mut api, "rfm:new_customers").await, rfm_events, "nor of the built-in ones");
}
