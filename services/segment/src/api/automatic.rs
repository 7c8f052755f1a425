//! The built-in segments over gRPC (SE-4, SE-5): their list with today's thresholds, their
//! settings, and the RFM grid. Counts are within a store-scoped token's stores; the thresholds
//! and score boundaries are the tenant's, computed over all its clients.
use super::SegmentApi;
use super::filters::{asked, on_model};
use crate::domain::automatic::{self, Settings, Thresholds};
use crate::domain::bits::Bits;
use crate::domain::evaluate::{Context, date_of, day_number, evaluate};
use crate::domain::{rfm, segments, validate};
use crate::model::Tenant;
use crate::store;
use loyalty_api::common::v1::{Date, Money};
use loyalty_api::segment::v1 as pb;
use loyalty_platform::convert::to_timestamp;
use loyalty_platform::error::{ApiError, ApiResult, Violations};

/// The clients the caller may see: every live one, or a scoped token's stores'.
pub(super) fn visible(t: &Tenant, stores: Option<&[String]>, today: i64) -> Bits {
    let mut live = t.population.live.clone();
    live.grow(t.population.len());
    if let Some(stores) = stores {
        live.and(&super::audience::visible(t, stores, today));
    }
    live
}

pub(super) fn date(day: i64) -> Date {
    let d = date_of(day);
    Date { year: d.year(), month: i32::from(u8::from(d.month())), day: i32::from(d.day()) }
}

/// A day given in a request, or INVALID_ARGUMENT naming `field`.
pub(super) fn day_of(d: &Date, field: &str) -> ApiResult<i64> {
    validate::calendar(d).map(day_number).ok_or_else(|| ApiError::field(field, "is not a calendar date"))
}

fn money(minor: i64, currency: &str) -> Option<Money> {
    Some(Money { minor_units: minor, currency: currency.to_string() })
}

pub(super) fn thresholds_message(t: &Tenant) -> Option<pb::SpenderThresholds> {
    let th = t.automatic.thresholds?;
    Some(pb::SpenderThresholds {
        big_from: money(th.big_from, &t.currency),
        medium_from: money(th.medium_from, &t.currency),
        average_purchases_milli: th.average_purchases_milli,
        as_of: Some(date(th.day)),
        computed_at: t.automatic.computed_at.map(to_timestamp),
    })
}

pub async fn list(
    api: &SegmentApi,
    r: tonic::Request<pb::ListAutomaticSegmentsRequest>,
) -> ApiResult<pb::ListAutomaticSegmentsResponse> {
    let a = asked(api, &r)?;
    let language = r.into_inner().language;
    let stores = a.caller.principal.store_scope().map(<[String]>::to_vec);
    let today = a.today;
    on_model(a.tenant, move |t| {
        let seen = visible(t, stores.as_deref(), today);
        let th = t.automatic.thresholds.unwrap_or(Thresholds { day: today, ..Default::default() });
        let s = &t.automatic.settings;
        let p = &t.population;
        let nested = |id: &str| segments::members(p, &t.segments, id, today, &t.phone_region);
        let cx = Context { today, phone_region: &t.phone_region, segment: &nested };
        let listed = automatic::ALL
            .iter()
            .map(|d| {
                let filter = d.filter(s, &th);
                let mut members = evaluate(p, &filter, &cx);
                members.and(&seen);
                pb::AutomaticSegment {
                    id: d.id.to_string(),
                    kind: if d.kind == segments::Kind::Rfm { pb::SegmentKind::Rfm } else { pb::SegmentKind::Automatic }
                        as i32,
                    name: d.name(&language).to_string(),
                    definition: (d.words)(s, &th),
                    filter_text: d.filter_text(s, &th),
                    filter: Some(filter),
                    size: members.count() as i64,
                }
            })
            .collect();
        Ok(pb::ListAutomaticSegmentsResponse { segments: listed, thresholds: thresholds_message(t) })
    })
    .await
}

fn settings_message(t: &Tenant) -> pb::AutomaticSegmentSettings {
    let mut m = t.automatic.settings.to_message(&t.currency);
    m.etag = format!("v{}", t.automatic.version);
    m.updated_at = t.automatic.updated_at.map(to_timestamp);
    m
}

pub async fn get_settings(
    api: &SegmentApi,
    r: tonic::Request<pb::GetAutomaticSegmentSettingsRequest>,
) -> ApiResult<pb::AutomaticSegmentSettings> {
    let a = asked(api, &r)?;
    Ok(settings_message(&super::segments::read(&a.tenant)))
}

/// The fields of the settings an update may name, and the range each must lie in.
const FIELDS: [(&str, i64, i64); 15] = [
    ("vip_monthly_spend", 0, 1_000_000_000_000),
    ("vip_monthly_purchases", 0, 10_000),
    ("vip_points_used_bp", 0, 10_000),
    ("vip_months_registered", 0, 1_200),
    ("vip_window_days", 1, 3_660),
    ("active_days", 1, 3_660),
    ("sleeping_days", 1, 3_660),
    ("new_days", 1, 3_660),
    ("activity_active_days", 1, 3_660),
    ("activity_low_risk_days", 1, 3_660),
    ("big_spender_share_bp", 1, 10_000),
    ("medium_spender_share_bp", 1, 10_000),
    ("lifecycle_loyal_purchases", 1, 10_000),
    ("lifecycle_at_risk_days", 1, 3_660),
    ("rfm_look_back_days", 1, 3_660),
];

/// `s` with the masked fields of `m`, every problem at once.
fn updated(mut s: Settings, m: &pb::AutomaticSegmentSettings, paths: &[String]) -> ApiResult<Settings> {
    let mut v = Violations::new();
    if paths.is_empty() {
        v.add("update_mask", "name the settings to change");
    }
    for path in paths {
        let Some(&(name, lo, hi)) = FIELDS.iter().find(|(n, _, _)| n == path) else {
            v.add("update_mask", format!("{path:?} is not a setting; the settings are {}", names()));
            continue;
        };
        let value = match name {
            "vip_monthly_spend" => m.vip_monthly_spend.as_ref().map_or(0, |x| x.minor_units),
            other => i64::from(field(m, other)),
        };
        let at = format!("settings.{name}");
        if value < lo || value > hi {
            v.add(at, format!("must be from {lo} to {hi}"));
            continue;
        }
        let slot = match name {
            "vip_monthly_spend" => &mut s.vip_monthly_spend_minor,
            "vip_monthly_purchases" => &mut s.vip_monthly_purchases,
            "vip_points_used_bp" => &mut s.vip_points_used_bp,
            "vip_months_registered" => &mut s.vip_months_registered,
            "vip_window_days" => &mut s.vip_window_days,
            "active_days" => &mut s.active_days,
            "sleeping_days" => &mut s.sleeping_days,
            "new_days" => &mut s.new_days,
            "activity_active_days" => &mut s.activity_active_days,
            "activity_low_risk_days" => &mut s.activity_low_risk_days,
            "big_spender_share_bp" => &mut s.big_share_bp,
            "medium_spender_share_bp" => &mut s.medium_share_bp,
            "lifecycle_loyal_purchases" => &mut s.loyal_purchases,
            "lifecycle_at_risk_days" => &mut s.at_risk_days,
            _ => &mut s.rfm_look_back_days,
        };
        *slot = value;
    }
    if s.activity_active_days > s.activity_low_risk_days {
        v.add("settings.activity_low_risk_days", "must not be below activity_active_days: the bands follow each other");
    }
    if s.big_share_bp + s.medium_share_bp > 10_000 {
        v.add("settings.medium_spender_share_bp", "with big_spender_share_bp must not pass 10000 (all spenders)");
    }
    if v.is_empty() { Ok(s) } else { Err(ApiError::InvalidArgument(v)) }
}

fn field(m: &pb::AutomaticSegmentSettings, name: &str) -> i32 {
    match name {
        "vip_monthly_purchases" => m.vip_monthly_purchases,
        "vip_points_used_bp" => m.vip_points_used_bp,
        "vip_months_registered" => m.vip_months_registered,
        "vip_window_days" => m.vip_window_days,
        "active_days" => m.active_days,
        "sleeping_days" => m.sleeping_days,
        "new_days" => m.new_days,
        "activity_active_days" => m.activity_active_days,
        "activity_low_risk_days" => m.activity_low_risk_days,
        "big_spender_share_bp" => m.big_spender_share_bp,
        "medium_spender_share_bp" => m.medium_spender_share_bp,
        "lifecycle_loyal_purchases" => m.lifecycle_loyal_purchases,
        "lifecycle_at_risk_days" => m.lifecycle_at_risk_days,
        _ => m.rfm_look_back_days,
    }
}

fn names() -> String {
    FIELDS.iter().map(|(n, _, _)| *n).collect::<Vec<_>>().join(", ")
}

pub async fn update_settings(
    api: &SegmentApi,
    r: tonic::Request<pb::UpdateAutomaticSegmentSettingsRequest>,
) -> ApiResult<pb::AutomaticSegmentSettings> {
    let a = asked(api, &r)?;
    if a.caller.principal.store_scope().is_some() {
        return Err(ApiError::PermissionDenied(
            "the automatic segments' settings are the whole chain's: a token limited to stores may not change them"
                .into(),
        ));
    }
    let body = r.into_inner();
    let Some(given) = body.settings else { return Err(ApiError::field("settings", "give the settings to change")) };
    let paths = body.update_mask.map(|m| m.paths).unwrap_or_default();
    let current = super::segments::read(&a.tenant).automatic.settings.clone();
    let settings = updated(current, &given, &paths)?;
    let mut conn = api.pool.get().await?;
    let tx = conn.transaction().await.map_err(anyhow::Error::from)?;
    let version = store::automatic::version_for_update(&tx, &a.caller.tenant).await?;
    if !given.etag.is_empty() && given.etag != format!("v{version}") {
        return Err(ApiError::Aborted(
            "the settings changed since this etag was read; read them again and retry".into(),
        ));
    }
    store::automatic::save(&tx, &a.caller.tenant, &settings, version + 1, a.caller.now).await?;
    tx.commit().await.map_err(anyhow::Error::from)?;
    // Read your own write: this replica loads the settings and computes the thresholds now.
    api.model.follow_segments(&api.pool).await?;
    let (model, now) = (api.model.clone(), a.caller.now);
    let every = time::Duration::seconds(api.settings.automatic_every_s.min(86_400) as i64);
    tokio::task::spawn_blocking(move || model.refresh_automatic(now, every))
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("computing the thresholds: {e}")))?;
    Ok(settings_message(&super::segments::read(&a.tenant)))
}

pub async fn rfm_grid(api: &SegmentApi, r: tonic::Request<pb::GetRfmGridRequest>) -> ApiResult<pb::RfmGrid> {
    let a = asked(api, &r)?;
    let as_of = r.get_ref().as_of.as_ref().map(|d| day_of(d, "as_of")).transpose()?;
    let stores = a.caller.principal.store_scope().map(<[String]>::to_vec);
    let (today, now) = (a.today, a.caller.now);
    on_model(a.tenant, move |t| {
        let seen = visible(t, stores.as_deref(), today);
        Ok(grid(t, as_of.unwrap_or(today), &seen, now))
    })
    .await
}

/// The RFM grid of `t` on `day` for the clients of `seen`: the scores computed at the tenant's
/// midnight for today, computed now for another day.
pub(super) fn grid(t: &Tenant, day: i64, seen: &Bits, now: time::OffsetDateTime) -> pb::RfmGrid {
    let look_back = t.automatic.settings.rfm_look_back_days;
    let cached = t.automatic.rfm.as_ref().filter(|s| s.as_of == day && s.look_back == look_back);
    let fresh;
    let (scored, computed_at) = match cached {
        Some(s) => (s, t.automatic.computed_at.unwrap_or(now)),
        None => {
            fresh = rfm::score(&t.population, day, look_back);
            (&fresh, now)
        }
    };
    let counts = scored.cells(seen);
    let mut cells = Vec::with_capacity(25);
    let mut by_name: Vec<(&str, i64)> = Vec::new();
    for (r, row) in counts.iter().enumerate() {
        for (f, clients) in row.iter().enumerate() {
            let (recency, fm) = (r as u8 + 1, f as u8 + 1);
            let segment = rfm::name(recency, fm);
            cells.push(pb::RfmCell {
                recency: i32::from(recency),
                frequency_monetary: i32::from(fm),
                clients: *clients,
                segment: segment.to_string(),
            });
            match by_name.iter_mut().find(|(n, _)| *n == segment) {
                Some((_, n)) => *n += clients,
                None => by_name.push((segment, *clients)),
            }
        }
    }
    let segments = by_name
        .into_iter()
        .map(|(name, clients)| pb::RfmSegmentCount {
            segment: name.to_string(),
            segment_id: format!("rfm:{name}"),
            clients,
        })
        .collect();
    pb::RfmGrid {
        cells,
        segments,
        recency_days_bounds: scored.bounds.recency_days.to_vec(),
        frequency_bounds: scored.bounds.frequency.to_vec(),
        monetary_bounds_minor: scored.bounds.monetary.to_vec(),
        currency: t.currency.clone(),
        look_back_days: look_back as i32,
        as_of: Some(date(day)),
        computed_at: Some(to_timestamp(computed_at)),
        scored_clients: seen.rows().filter(|r| scored.scores.get(*r).is_some_and(|s| s[0] > 0)).count() as i64,
    }
}
