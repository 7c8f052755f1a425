//! Membership published: one replica at a time (the publisher's lock) compares every segment's
//! members now with the members last published, and writes the difference as entered/left events
//! in the same transaction as the new members. A segment is evaluated again when the read model
//! moved, when a segment changed, or when the tenant's day turned (time-relative conditions).
//! A new segment's first members are recorded without events unless it asked to announce them.
//! Sizes are kept per day as they change.
use crate::domain::segments::members;
use crate::model::Model;
use crate::store::published::{self, Change, State};
use loyalty_api::common::v1::{Actor, actor};
use loyalty_api::events::v1::{Event, SegmentMembershipChanged, event::Payload};
use loyalty_platform::clock::SharedClock;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// What this replica knows of a segment's publication.
struct Known {
    state: State,
    members: HashSet<Uuid>,
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

#[derive(Clone)]
pub struct Publisher {
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

/// One segment's members now, computed off the async threads.
struct Computed {
    tenant: String,
    segment: Uuid,
    version: i32,
    announce: bool,
    day: i64,
    date: time::Date,
    members: Vec<Uuid>,
}

impl Publisher {
    pub fn new(model: Model, pool: deadpool_postgres::Pool, clock: SharedClock) -> Self {
        Publisher { model, pool, clock, known: Arc::default(), last_pass: Arc::default() }
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
        let mut conn = self.pool.get().await?;
        let tx = conn.transaction().await?;
        if !published::try_lead(&tx).await? {
            return Ok(0);
        }
        let mut due = Vec::new();
        // A built-in segment left for later: this pass does not close the moment.
        let mut deferred = false;
        for (tenant, t) in self.model.tenants() {
            let (ids, today) = {
                let t = t.read().unwrap_or_else(|p| p.into_inner());
                (t.segments.keys().copied().collect::<Vec<_>>(), t.today(self.clock.now()))
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
                self.refresh_known(&tx, &tenant, id, state).await?;
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
                let (fresh, recent) = {
                    let known = self.known.lock().unwrap_or_else(|p| p.into_inner());
                    let k = known.get(&(tenant.clone(), id));
                    let fresh = k.is_some_and(|k| k.computed == (facts_seq, segments_seq, today, version));
                    // Same day and definition, computed a moment ago: only the facts moved.
                    let recent = k.is_some_and(|k| {
                        k.computed.2 == today && k.computed.3 == version && k.at.elapsed() < BUILT_IN_EVERY
                    });
                    (fresh, recent)
                };
                if fresh {
                    continue;
                }
                if built_in && recent {
                    deferred = true;
                    continue;
                }
                due.push((tenant.clone(), t.clone(), id, today));
            }
        }
        let mut events = 0u64;
        if !due.is_empty() {
            let computed = tokio::task::spawn_blocking(move || compute(due)).await?;
            for c in computed {
                events += self.publish(&tx, c, facts_seq, segments_seq).await?;
            }
            loyalty_platform::outbox::commit(tx).await?;
        }
        if !deferred {
            *self.last_pass.lock().unwrap_or_else(|p| p.into_inner()) = Some(moment);
        }
        Ok(events)
    }

    /// Reloads the published members when another replica published since this one looked.
    async fn refresh_known(
        &self,
        tx: &impl deadpool_postgres::GenericClient,
        tenant: &str,
        id: Uuid,
        state: Option<State>,
    ) -> anyhow::Result<()> {
        let key = (tenant.to_string(), id);
        let current = self.known.lock().unwrap_or_else(|p| p.into_inner()).get(&key).map(|k| k.state);
        match state {
            None => {
                self.known.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
            }
            Some(s) if current != Some(s) => {
                let members = published::members(tx, tenant, id).await?.into_iter().collect();
                let known =
                    Known { state: s, members, computed: (-1, -1, -1, -1), size: None, at: std::time::Instant::now() };
                self.known.lock().unwrap_or_else(|p| p.into_inner()).insert(key, known);
            }
            Some(_) => {}
        }
        Ok(())
    }

    async fn publish(
        &self,
        tx: &impl deadpool_postgres::GenericClient,
        c: Computed,
        facts_seq: i64,
        segments_seq: i64,
    ) -> anyhow::Result<u64> {
        let key = (c.tenant.clone(), c.segment);
        let (first, before, last_size) = {
            let known = self.known.lock().unwrap_or_else(|p| p.into_inner());
            match known.get(&key) {
                Some(k) => (false, k.members.clone(), k.size),
                None => (true, HashSet::new(), None),
            }
        };
        let now: HashSet<Uuid> = c.members.iter().copied().collect();
        let entered: Vec<Uuid> = c.members.iter().filter(|m| !before.contains(m)).copied().collect();
        let left: Vec<Uuid> = before.iter().filter(|m| !now.contains(m)).copied().collect();
        let announce = !first || c.announce;
        let mut events = Vec::new();
        if announce {
            events.extend(entered.iter().map(|m| membership_event(&c.tenant, c.segment, *m, true)));
            events.extend(left.iter().map(|m| membership_event(&c.tenant, c.segment, *m, false)));
        }
        let mut state = self.known.lock().unwrap_or_else(|p| p.into_inner()).get(&key).map(|k| k.state);
        if first || !entered.is_empty() || !left.is_empty() {
            let change = Change {
                segment: c.segment,
                entered: &entered,
                left: &left,
                events: &events,
                facts_seq,
                version: c.version,
            };
            let generation = published::publish(tx, &c.tenant, &change).await?;
            state = Some(State { generation, facts_seq, version: c.version });
        }
        let size = now.len() as i64;
        if last_size != Some((c.day, size)) {
            published::record_size(tx, &c.tenant, c.segment, c.date, size).await?;
        }
        if let Some(state) = state {
            let known = Known {
                state,
                members: now,
                computed: (facts_seq, segments_seq, c.day, c.version),
                size: Some((c.day, size)),
                at: std::time::Instant::now(),
            };
            self.known.lock().unwrap_or_else(|p| p.into_inner()).insert(key, known);
        }
        Ok(events.len() as u64)
    }
}

fn compute(due: Vec<(String, Arc<std::sync::RwLock<crate::model::Tenant>>, Uuid, i64)>) -> Vec<Computed> {
    due.into_iter()
        .filter_map(|(tenant, t, id, today)| {
            let t = t.read().unwrap_or_else(|p| p.into_inner());
            let saved = t.segments.get(&id)?;
            let p = &t.population;
            let bits = members(p, &t.segments, &id.to_string(), today, &t.phone_region)?;
            let members = bits.rows().map(|r| p.id(r as u32)).collect();
            Some(Computed {
                tenant,
                segment: id,
                version: saved.version,
                announce: saved.announce,
                day: today,
                date: crate::domain::evaluate::date_of(today),
                members,
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
