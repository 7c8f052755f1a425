//! Membership published: one replica at a time (the publisher's lock) compares every segment's
//! members now with the members last published, and writes the difference as entered/left events
//! in the same transaction as the new members. A segment is evaluated again when the read model
//! moved, when a segment changed, or when the tenant's day turned (time-relative conditions).
//! A new segment's first members are recorded without events unless it asked to announce them.
//! Sizes are kept per day as they change.
//!
//! Saved segments and the built-in ones publish in two lanes, each with its own lock and pass:
//! the 32 built-in segments of a tenant span every client and take seconds to compare, and a
//! marketer's segment (a trigger's audience) must not wait behind them.
use crate::domain::bits::Bits;
use crate::domain::segments::members;
use crate::model::Model;
use crate::store::published::{self, Change, State};
use loyalty_api::common::v1::{Actor, actor};
use loyalty_api::events::v1::{Event, SegmentMembershipChanged, event::Payload};
use loyalty_platform::clock::SharedClock;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// What this replica knows of a segment's publication.
struct Known {
    state: State,
    /// The members last published, as rows of the tenant of `instance`: the next members are
    /// compared with them a word of 64 clients at a time.
    members: Bits,
    /// Members published whose clients have no row in this tenant: they leave at the next pass.
    strays: Vec<Uuid>,
    instance: u64,
    /// The model position, day and version the members were last computed at.
    computed: (i64, i64, i64, i32),
    /// The last size recorded, with its day.
    size: Option<(i64, i64)>,
    /// When the members were last computed.
    at: std::time::Instant,
}

/// How often the built-in segments (32 a tenant, over every client) are evaluated again while
/// the facts move: their members are published within this much more than a saved segment's.
const BUILT_IN_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// Which segments a publisher looks after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// The tenant's own segments: published as soon as the facts move.
    Saved,
    /// The automatic and RFM segments: at most every [`BUILT_IN_EVERY`] while the facts move.
    BuiltIn,
}

impl Lane {
    fn holds(self, built_in: bool) -> bool {
        built_in == (self == Lane::BuiltIn)
    }
}

#[derive(Clone)]
pub struct Publisher {
    lane: Lane,
    model: Model,
    pool: deadpool_postgres::Pool,
    clock: SharedClock,
    known: Arc<Mutex<HashMap<(String, Uuid), Known>>>,
    /// What the last pass this replica led had in front of it: while the facts, the segments and
    /// every tenant's day stay the same, there is nothing new to publish and no need to ask.
    last_pass: Arc<Mutex<Option<Moment>>>,
}

/// The model's position and each tenant's day and built-in segments.
type Moment = (i64, i64, Vec<(String, i64, i128)>);

/// A segment due for a look: its tenant, id, the tenant's day, and its members last published.
type Due = (String, Arc<std::sync::RwLock<crate::model::Tenant>>, Uuid, i64, Option<(Bits, Vec<Uuid>)>);

/// One segment's members now and how they changed, computed off the async threads.
struct Computed {
    tenant: String,
    segment: Uuid,
    version: i32,
    announce: bool,
    day: i64,
    date: time::Date,
    /// Nothing was published for it before.
    first: bool,
    entered: Vec<Uuid>,
    left: Vec<Uuid>,
    members: Bits,
    instance: u64,
}

impl Publisher {
    pub fn new(lane: Lane, model: Model, pool: deadpool_postgres::Pool, clock: SharedClock) -> Self {
        Publisher { lane, model, pool, clock, known: Arc::default(), last_pass: Arc::default() }
    }

    /// One pass: returns how many entered/left events were published.
    pub async fn pass(&self) -> anyhow::Result<u64> {
        if !matches!(self.model.readiness(), crate::model::Readiness::Ready) {
            return Ok(0);
        }
        let (facts_seq, segments_seq) = self.model.position();
        // Each tenant's day, and when its built-in segments were last written (they move without
        // a fact or a saved segment moving).
        let mut days: Vec<(String, i64, i128)> = self
            .model
            .tenants()
            .into_iter()
            .map(|(id, t)| {
                let t = t.read().unwrap_or_else(|p| p.into_inner());
                let built = t.automatic.computed_at.map_or(0, |at| at.unix_timestamp_nanos());
                (id, t.today(self.clock.now()), built)
            })
            .collect();
        days.sort();
        let moment = (facts_seq, segments_seq, days);
        if self.last_pass.lock().unwrap_or_else(|p| p.into_inner()).as_ref() == Some(&moment) {
            return Ok(0);
        }
        // The lead is held by this transaction for the whole pass; each segment is published in
        // a transaction of its own, so one segment's first members (a built-in segment's can be
        // every client) hold nobody else's events back.
        let mut conn = self.pool.get().await?;
        let tx = conn.transaction().await?;
        if !published::try_lead(&tx, self.lane == Lane::BuiltIn).await? {
            return Ok(0);
        }
        let mut due = Vec::new();
        // A built-in segment left for later: this pass does not close the moment.
        let mut deferred = false;
        for (tenant, t) in self.model.tenants() {
            let (ids, today) = {
                let t = t.read().unwrap_or_else(|p| p.into_inner());
                let ids = t.segments.iter().filter(|(_, s)| self.lane.holds(s.kind.built_in())).map(|(id, _)| *id);
                (ids.collect::<Vec<_>>(), t.today(self.clock.now()))
            };
            if ids.is_empty() {
                continue;
            }
            let states: HashMap<Uuid, State> = published::states(&tx, &tenant).await?.into_iter().collect();
            for id in ids {
                let state = states.get(&id).copied();
                if state.is_some_and(|s| s.facts_seq > facts_seq) {
                    continue; // another replica published newer news; this one catches up first
                }
                self.refresh_known(&tx, (&tenant, &t), id, state).await?;
                let (version, built_in, computed) = {
                    let t = t.read().unwrap_or_else(|p| p.into_inner());
                    let (version, built_in) =
                        t.segments.get(&id).map_or((0, false), |s| (s.version, s.kind.built_in()));
                    (version, built_in, t.automatic.computed_at.is_some())
                };
                if built_in && !computed {
                    // Before this replica computed the thresholds and RFM scores (just started, just
                    // rebuilt) the built-in segments would answer with zeros: nobody is told that.
                    deferred = true;
                    continue;
                }
                let (fresh, recent, prior) = {
                    let known = self.known.lock().unwrap_or_else(|p| p.into_inner());
                    let k = known.get(&(tenant.clone(), id));
                    let fresh = k.is_some_and(|k| k.computed == (facts_seq, segments_seq, today, version));
                    // Same day and definition, computed a moment ago: only the facts moved.
                    let recent = k.is_some_and(|k| {
                        k.computed.2 == today && k.computed.3 == version && k.at.elapsed() < BUILT_IN_EVERY
                    });
                    let skipped = fresh || (built_in && recent);
                    let prior = k.filter(|_| !skipped).map(|k| (k.members.clone(), k.strays.clone()));
                    (fresh, recent, prior)
                };
                if fresh {
                    continue;
                }
                if built_in && recent {
                    deferred = true;
                    continue;
                }
                due.push((tenant.clone(), t.clone(), id, today, prior));
            }
        }
        let mut events = 0u64;
        if !due.is_empty() {
            let computed = tokio::task::spawn_blocking(move || compute(due)).await?;
            for c in computed {
                let mut conn = self.pool.get().await?;
                let publishing = conn.transaction().await?;
                events += self.publish(&publishing, c, facts_seq, segments_seq).await?;
                loyalty_platform::outbox::commit(publishing).await?;
            }
        }
        tx.commit().await?;
        if !deferred {
            *self.last_pass.lock().unwrap_or_else(|p| p.into_inner()) = Some(moment);
        }
        Ok(events)
    }

    /// Reloads the published members when another replica published since this one looked, or
    /// when the tenant was built again (its rows are other rows).
    async fn refresh_known(
        &self,
        tx: &impl deadpool_postgres::GenericClient,
        (tenant, t): (&str, &Arc<std::sync::RwLock<crate::model::Tenant>>),
        id: Uuid,
        state: Option<State>,
    ) -> anyhow::Result<()> {
        let key = (tenant.to_string(), id);
        let instance = t.read().unwrap_or_else(|p| p.into_inner()).instance;
        let current = self.known.lock().unwrap_or_else(|p| p.into_inner()).get(&key).map(|k| (k.state, k.instance));
        match state {
            None => {
                self.known.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
            }
            Some(s) if current != Some((s, instance)) => {
                let published = published::members(tx, tenant, id).await?;
                let t = t.read().unwrap_or_else(|p| p.into_inner());
                let p = &t.population;
                let (mut members, mut strays) = (Bits::none(p.len()), Vec::new());
                for client in published {
                    match p.own_row(client) {
                        Some(row) => members.set(row as usize, true),
                        None => strays.push(client),
                    }
                }
                let at = std::time::Instant::now();
                let known = Known { state: s, members, strays, instance, computed: (-1, -1, -1, -1), size: None, at };
                self.known.lock().unwrap_or_else(|p| p.into_inner()).insert(key, known);
            }
            Some(_) => {}
        }
        Ok(())
    }

    async fn publish(
        &self,
        tx: &deadpool_postgres::Transaction<'_>,
        c: Computed,
        facts_seq: i64,
        segments_seq: i64,
    ) -> anyhow::Result<u64> {
        let key = (c.tenant.clone(), c.segment);
        let (first, entered, left) = (c.first, &c.entered, &c.left);
        let last_size = self.known.lock().unwrap_or_else(|p| p.into_inner()).get(&key).and_then(|k| k.size);
        let announce = !first || c.announce;
        let mut events = Vec::new();
        if announce {
            events.extend(entered.iter().map(|m| membership_event(&c.tenant, c.segment, *m, true)));
            events.extend(left.iter().map(|m| membership_event(&c.tenant, c.segment, *m, false)));
        }
        let mut state = self.known.lock().unwrap_or_else(|p| p.into_inner()).get(&key).map(|k| k.state);
        if first || !entered.is_empty() || !left.is_empty() {
            let change =
                Change { segment: c.segment, entered, left, events: &events, facts_seq, version: c.version, first };
            let generation = published::publish(tx, &c.tenant, &change).await?;
            state = Some(State { generation, facts_seq, version: c.version });
        }
        let size = c.members.count() as i64;
        if last_size != Some((c.day, size)) {
            published::record_size(tx, &c.tenant, c.segment, c.date, size).await?;
        }
        if let Some(state) = state {
            let known = Known {
                state,
                members: c.members,
                strays: Vec::new(),
                instance: c.instance,
                computed: (facts_seq, segments_seq, c.day, c.version),
                size: Some((c.day, size)),
                at: std::time::Instant::now(),
            };
            self.known.lock().unwrap_or_else(|p| p.into_inner()).insert(key, known);
        }
        Ok(events.len() as u64)
    }
}

/// Each due segment's members now, compared with those last published.
fn compute(due: Vec<Due>) -> Vec<Computed> {
    due.into_iter()
        .filter_map(|(tenant, t, id, today, prior)| {
            let t = t.read().unwrap_or_else(|p| p.into_inner());
            let saved = t.segments.get(&id)?;
            let p = &t.population;
            let members = members(p, &t.segments, &id.to_string(), today, &t.phone_region)?;
            let ids = |rows: &mut dyn Iterator<Item = usize>| rows.map(|r| p.id(r as u32)).collect::<Vec<_>>();
            let (entered, left) = match &prior {
                None => (ids(&mut members.rows()), Vec::new()),
                Some((before, strays)) => {
                    let mut left = ids(&mut before.rows_not_in(&members));
                    left.extend(strays);
                    (ids(&mut members.rows_not_in(before)), left)
                }
            };
            Some(Computed {
                tenant,
                segment: id,
                version: saved.version,
                announce: saved.announce,
                day: today,
                date: crate::domain::evaluate::date_of(today),
                first: prior.is_none(),
                entered,
                left,
                members,
                instance: t.instance,
            })
        })
        .collect()
}

fn membership_event(tenant: &str, segment: Uuid, client: Uuid, entered: bool) -> Event {
    let actor = Actor { kind: actor::Kind::System as i32, ..Default::default() };
    let payload = SegmentMembershipChanged {
        segment_id: crate::domain::segments::shown(segment),
        client_id: client.to_string(),
        entered,
    };
    loyalty_platform::outbox::event(tenant, actor, &client.to_string(), Payload::SegmentMembershipChanged(payload))
}
