//! Triggers at work (ME-4). Facts fire them as they arrive (the feed consumers write firings);
//! date-based ones are looked at once per tenant-local day, at their local send time, and fire
//! for the clients whose date it is. A pass then checks each firing against the trigger's
//! audience and its creator's stores and queues the message, one per occurrence and client; the
//! sender sends it with the campaign rules (consent, block, address).
use crate::store::{contacts, triggers};
use loyalty_api::filter::v1 as fpb;
use loyalty_api::filter::v1::audience::Source;
use loyalty_api::messaging::v1 as pb;
use loyalty_api::segment::v1 as spb;
use loyalty_api::segment::v1::segment_service_client::SegmentServiceClient;
use loyalty_platform::TenantId;
use loyalty_platform::clock::SharedClock;
use loyalty_platform::identity::ServiceIdentity;
use std::collections::{BTreeMap, HashSet};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

/// Days a date-based trigger catches up after the service was down over midnights.
const CATCH_UP_DAYS: i64 = 7;
/// Firings checked in one pass.
const BATCH: i64 = 1000;

pub struct Triggers {
    pub pool: deadpool_postgres::Pool,
    pub segments: tonic::transport::Channel,
    pub identity: ServiceIdentity,
    pub clock: SharedClock,
}

/// "HH:MM" as minutes after midnight.
pub fn minutes_of(text: &str) -> Option<i64> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    ((0..24).contains(&h) && (0..60).contains(&m) && text.trim().len() == 5).then_some(h * 60 + m)
}

/// The default local send time of date-based triggers.
pub const DEFAULT_SEND_AT: &str = "10:00";

/// The "MM-DD" birthdays whose day `day` is: 29 February is greeted on 28 February in other years.
pub fn birthdays_on(day: Date) -> Vec<String> {
    let mut days = vec![format!("{:02}-{:02}", u8::from(day.month()), day.day())];
    if day.month() == time::Month::February && day.day() == 28 && !time::util::is_leap_year(day.year()) {
        days.push("02-29".into());
    }
    days
}

impl Triggers {
    /// Date-based triggers due, then waiting firings; how many messages were queued or fired.
    pub async fn pass(&self) -> anyhow::Result<u64> {
        let fired = self.sweep().await?;
        let mut queued = 0;
        loop {
            let (handled, n) = self.check_firings().await?;
            queued += n;
            if handled < BATCH as usize {
                break;
            }
        }
        Ok(fired + queued)
    }

    /// Each date-based trigger's days since it last looked, up to today once its send time passed.
    async fn sweep(&self) -> anyhow::Result<u64> {
        let now = self.clock.now();
        let mut db = self.pool.get().await?;
        let mut fired = 0;
        for t in triggers::date_based(&db).await? {
            let zone = loyalty_platform::tz::stored(&t.zone);
            let today = loyalty_platform::tz::local_date(now, &zone);
            let send_at =
                minutes_of(&t.row.definition.send_at_local_time).or_else(|| minutes_of(DEFAULT_SEND_AT)).unwrap_or(600);
            let earliest = today - time::Duration::days(CATCH_UP_DAYS);
            let mut day = t.row.swept_on.and_then(|d| d.next_day()).unwrap_or(today).max(earliest);
            while day <= today {
                if !is_due(now, day, &zone, send_at) {
                    break;
                }
                let tx = db.transaction().await?;
                let (pick, key) = pick(&t.row, day, &zone);
                fired += triggers::sweep(&tx, &t.tenant, t.row.id, (&pick, &key), day, now).await?;
                tx.commit().await?;
                day = match day.next_day() {
                    Some(d) => d,
                    None => break,
                };
            }
        }
        Ok(fired)
    }

    /// One batch of firings: audience and stores checked, messages queued. (Firings handled,
    /// messages queued.)
    async fn check_firings(&self) -> anyhow::Result<(usize, u64)> {
        let now = self.clock.now();
        let mut db = self.pool.get().await?;
        let tx = db.transaction().await?;
        let firings = triggers::take_firings(&tx, BATCH).await?;
        let mut by_trigger: BTreeMap<(String, Uuid), Vec<(String, Uuid)>> = BTreeMap::new();
        for f in &firings {
            by_trigger.entry((f.tenant.clone(), f.trigger)).or_default().push((f.occurrence.clone(), f.client));
        }
        let mut queued = 0;
        for ((tenant, trigger), fired) in by_trigger {
            if let Some(t) = triggers::load(&tx, &tenant, trigger, false).await?
                && t.definition.enabled
            {
                let clients: Vec<Uuid> = fired.iter().map(|(_, c)| *c).collect();
                let kept = self.admitted(&tx, &tenant, &t, &clients).await?;
                let recipients: Vec<(String, Uuid)> = fired.iter().filter(|(_, c)| kept.contains(c)).cloned().collect();
                if !recipients.is_empty() {
                    let content = content_of(&tx, &tenant, &t).await?;
                    let encoded = prost::Message::encode_to_vec(&content);
                    queued += triggers::queue(&tx, &tenant, (t.id, &t.channel, &encoded), &recipients, now).await?;
                }
            }
            triggers::drop_firings(&tx, &tenant, &fired).await?;
        }
        tx.commit().await?;
        Ok((firings.len(), queued))
    }

    /// Of `clients`, those in the trigger's audience and seen by its creator's stores.
    async fn admitted(
        &self,
        db: &impl crate::store::GenericClient,
        tenant: &str,
        t: &triggers::Row,
        clients: &[Uuid],
    ) -> anyhow::Result<HashSet<Uuid>> {
        let mut kept: HashSet<Uuid> = match t.stores()? {
            None => clients.iter().copied().collect(),
            Some(stores) => contacts::load_many(db, &TenantId::trusted(tenant), clients)
                .await?
                .into_iter()
                .filter(|c| c.seen_by(Some(&stores)))
                .map(|c| c.client_id)
                .collect(),
        };
        if let Some(Source::ClientIds(list)) = t.definition.audience.as_ref().and_then(|a| a.source.as_ref()) {
            let listed: HashSet<Uuid> = list.client_ids.iter().filter_map(|c| Uuid::parse_str(c.trim()).ok()).collect();
            kept.retain(|c| listed.contains(c));
        }
        if kept.is_empty() {
            return Ok(kept);
        }
        let Some(within) = audience_filter(t.definition.audience.as_ref(), &kept) else { return Ok(kept) };
        let audience = fpb::Audience { source: Some(Source::Filter(within)) };
        let request = spb::ListMatchingClientsRequest {
            audience: Some(audience),
            page: Some(loyalty_api::common::v1::PageRequest { page_size: BATCH as i32, page_token: String::new() }),
            facts: vec!["client.id".into()],
            order_by: String::new(),
            within_stores: vec![],
            period: None,
            as_rows: false,
        };
        let mut segments = SegmentServiceClient::new(self.segments.clone());
        let answer = segments.list_matching_clients(self.identity.request(tenant, request)?).await?.into_inner();
        let matched: HashSet<Uuid> = answer.clients.iter().filter_map(|c| Uuid::parse_str(&c.client_id).ok()).collect();
        kept.retain(|c| matched.contains(c));
        Ok(kept)
    }
}

/// The audience as a filter over `clients`, or None when it needs no asking (no audience, all
/// clients, or client ids, which [`Triggers::admitted`] applies itself).
fn audience_filter(audience: Option<&fpb::Audience>, clients: &HashSet<Uuid>) -> Option<fpb::Filter> {
    let ids: Vec<fpb::Value> =
        clients.iter().map(|c| fpb::Value { kind: Some(fpb::value::Kind::Text(c.to_string())) }).collect();
    let among = fpb::Condition {
        fact: "client.id".into(),
        operator: fpb::Operator::AnyOf as i32,
        values: ids,
        ..Default::default()
    };
    let scoped = |more: Vec<fpb::Condition>, groups: Vec<fpb::Filter>| fpb::Filter {
        combinator: fpb::filter::Combinator::All as i32,
        conditions: [vec![among.clone()], more].concat(),
        groups,
        exclude: false,
    };
    match audience?.source.as_ref()? {
        Source::AllClients(_) | Source::ClientIds(_) => None,
        Source::SegmentId(segment) => {
            let member = fpb::Condition {
                fact: "segments".into(),
                operator: fpb::Operator::AnyOf as i32,
                values: vec![fpb::Value { kind: Some(fpb::value::Kind::Text(segment.clone())) }],
                ..Default::default()
            };
            Some(scoped(vec![member], Vec::new()))
        }
        Source::Filter(f) => Some(scoped(Vec::new(), vec![f.clone()])),
    }
}

/// Whom a date-based trigger picks on `day`, and the key of that occurrence.
fn pick(t: &triggers::Row, day: Date, zone: &jiff::tz::TimeZone) -> (triggers::Pick, String) {
    use triggers::Pick;
    let offset = time::Duration::days(i64::from(t.definition.offset_days));
    let day_span = |d: Date| {
        let from = loyalty_platform::tz::start_of_day(d, zone);
        let to = d.next_day().map(|n| loyalty_platform::tz::start_of_day(n, zone)).unwrap_or(from);
        (from, to)
    };
    match t.kind.as_str() {
        "birthday" => {
            // Sent `offset` days after the birthday: the birthday is `day - offset`.
            let birthday = day - offset;
            (Pick::Birthdays(birthdays_on(birthday)), format!("birthday:{}", birthday.year()))
        }
        "days_after_first_purchase" => {
            let (from, to) = day_span(day - offset);
            (Pick::FirstPurchase(from, to), "first_purchase".into())
        }
        "points_expiring" => {
            let expiry = day + offset;
            let (from, to) = day_span(expiry);
            (Pick::Expiring(from, to), format!("expiry:{expiry}"))
        }
        _ => {
            let on = t.definition.date.as_ref().map(|d| (d.year, d.month as u8, d.day as u8));
            let today = (day.year(), u8::from(day.month()), day.day());
            if on == Some(today) {
                (Pick::Everyone, format!("date:{day}"))
            } else {
                (Pick::Birthdays(Vec::new()), format!("date:{day}"))
            }
        }
    }
}

/// The content a trigger sends now: its own, or its template's.
pub async fn content_of(
    db: &impl crate::store::GenericClient,
    tenant: &str,
    t: &triggers::Row,
) -> anyhow::Result<pb::Content> {
    use pb::trigger::Body;
    match &t.definition.body {
        Some(Body::Content(c)) => Ok(c.clone()),
        Some(Body::TemplateId(id)) => {
            let id = Uuid::parse_str(id)?;
            let template = crate::store::templates::load(db, &TenantId::trusted(tenant), id, false).await?;
            Ok(template.map(|t| t.content).unwrap_or_default())
        }
        None => Ok(pb::Content::default()),
    }
}

/// Whether a date-based trigger's send time on `day` (minutes after local midnight) has come.
pub fn is_due(now: OffsetDateTime, day: Date, zone: &jiff::tz::TimeZone, send_at_minutes: i64) -> bool {
    now >= loyalty_platform::tz::start_of_day(day, zone) + time::Duration::minutes(send_at_minutes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn send_times_read_as_hours_and_minutes() {
        assert_eq!(minutes_of("10:00"), Some(600));
        assert_eq!(minutes_of("00:05"), Some(5));
        assert_eq!(minutes_of("24:00"), None);
        assert_eq!(minutes_of("9:00"), None);
        assert_eq!(minutes_of("10:60"), None);
        assert_eq!(minutes_of("ten"), None);
    }

    #[test]
    fn leap_day_birthdays_are_greeted_on_the_28th_in_other_years() {
        assert_eq!(birthdays_on(date!(2027 - 02 - 28)), vec!["02-28".to_string(), "02-29".to_string()]);
        assert_eq!(birthdays_on(date!(2028 - 02 - 28)), vec!["02-28".to_string()]);
        assert_eq!(birthdays_on(date!(2028 - 02 - 29)), vec!["02-29".to_string()]);
        assert_eq!(birthdays_on(date!(2026 - 12 - 31)), vec!["12-31".to_string()]);
    }

    #[test]
    fn a_local_send_time_is_in_the_tenants_zone() {
        let vilnius = loyalty_platform::tz::stored("Europe/Vilnius");
        // 10:00 in Vilnius on 2 December is 08:00 UTC.
        let day = date!(2026 - 12 - 02);
        assert!(!is_due(time::macros::datetime!(2026-12-02 07:59 UTC), day, &vilnius, 600));
        assert!(is_due(time::macros::datetime!(2026-12-02 08:00 UTC), day, &vilnius, 600));
    }
}
