//! The live read model of this replica: one [`Population`] per tenant in memory, loaded from the
//! `facts` table at start and kept current by following it (every replica follows the same table,
//! in `seq` order, so all answer alike). Filters are answered from here.
use crate::domain::apply::apply;
use crate::domain::automatic;
use crate::domain::population::Population;
use crate::domain::segments::Segments;
use crate::store;
use loyalty_platform::tz::TimeZone;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use time::OffsetDateTime;

static INSTANCES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// One tenant's clients and what "today" means for them.
pub struct Tenant {
    pub population: Population,
    /// The tenant's saved segments.
    pub segments: Segments,
    pub zone: TimeZone,
    pub phone_region: String,
    /// The currency of the tenant's prices (purchases are summed in it).
    pub currency: String,
    /// The built-in segments' settings, thresholds and RFM scores.
    pub automatic: automatic::State,
    /// Which tenant this is of those this process made (a rebuild makes new ones): client rows
    /// mean the same clients only within one.
    pub instance: u64,
}

impl Default for Tenant {
    fn default() -> Self {
        Tenant::new("UTC", "LT")
    }
}

impl Tenant {
    fn new(zone: &str, phone_region: &str) -> Self {
        let mut t = Tenant {
            population: Population::default(),
            segments: Segments::default(),
            zone: loyalty_platform::tz::stored(zone),
            phone_region: phone_region.to_string(),
            currency: "EUR".to_string(),
            automatic: automatic::State::default(),
            instance: INSTANCES.fetch_add(1, Ordering::Relaxed),
        };
        // The built-in segments exist from the first moment; their thresholds follow.
        automatic::install(&mut t.segments, &t.automatic, OffsetDateTime::UNIX_EPOCH);
        t
    }

    /// Today in the tenant's zone, as a day number.
    pub fn today(&self, now: OffsetDateTime) -> i64 {
        crate::domain::evaluate::day_number(loyalty_platform::tz::local_date(now, &self.zone))
    }
}

#[derive(Default)]
struct Inner {
    tenants: RwLock<HashMap<String, Arc<RwLock<Tenant>>>>,
    /// The last `seq` applied.
    applied: AtomicI64,
    /// The last `segment_seq` loaded.
    segments_seq: AtomicI64,
    /// The facts table's generation the model was loaded from (a rebuild bumps it); -1 before the
    /// first look.
    generation: Mutex<Option<i64>>,
    /// Whether this replica has caught up with the table once since it started.
    loaded: AtomicBool,
    /// When the last applied event happened: how fresh the answers are.
    as_of: Mutex<Option<OffsetDateTime>>,
}

#[derive(Clone, Default)]
pub struct Model {
    inner: Arc<Inner>,
}

/// Whether answers can be given yet.
pub enum Readiness {
    Ready,
    /// Still loading: how many facts are applied.
    Loading(i64),
}

impl Model {
    /// The tenant's model, if any fact of theirs has arrived.
    pub fn tenant(&self, id: &str) -> Option<Arc<RwLock<Tenant>>> {
        self.inner.tenants.read().unwrap_or_else(|p| p.into_inner()).get(id).cloned()
    }

    /// Every tenant's model.
    pub fn tenants(&self) -> Vec<(String, Arc<RwLock<Tenant>>)> {
        let all = self.inner.tenants.read().unwrap_or_else(|p| p.into_inner());
        all.iter().map(|(id, t)| (id.clone(), t.clone())).collect()
    }

    /// The position of the model: the last fact and the last segment change applied.
    pub fn position(&self) -> (i64, i64) {
        (self.inner.applied.load(Ordering::Acquire), self.inner.segments_seq.load(Ordering::Acquire))
    }

    /// The facts table's generation the model holds, once it looked.
    pub fn generation(&self) -> Option<i64> {
        *self.inner.generation.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn readiness(&self) -> Readiness {
        if self.inner.loaded.load(Ordering::Acquire) {
            Readiness::Ready
        } else {
            Readiness::Loading(self.inner.applied.load(Ordering::Acquire))
        }
    }

    /// The time of the last event applied.
    pub fn as_of(&self) -> Option<OffsetDateTime> {
        *self.inner.as_of.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies every fact newer than the last one applied, `batch` at a time, until none is left;
    /// returns how many. The first pass that finds nothing left marks the model loaded.
    pub async fn follow(&self, pool: &deadpool_postgres::Pool, batch: i64) -> anyhow::Result<u64> {
        let mut applied = 0u64;
        self.notice_rebuild(pool).await?;
        self.follow_segments(pool).await?;
        loop {
            let conn = pool.get().await?;
            let after = self.inner.applied.load(Ordering::Acquire);
            let facts = store::facts::after(&conn, after, batch).await?;
            drop(conn);
            let n = facts.len();
            if n > 0 {
                let model = self.clone();
                tokio::task::spawn_blocking(move || model.apply_all(facts)).await?;
                applied += n as u64;
                if !self.inner.loaded.load(Ordering::Acquire) {
                    tracing::info!(applied = self.inner.applied.load(Ordering::Acquire), "loading the read model");
                }
            }
            if (n as i64) < batch {
                if !self.inner.loaded.swap(true, Ordering::AcqRel) {
                    tracing::info!(applied = self.inner.applied.load(Ordering::Acquire), "read model loaded");
                }
                return Ok(applied);
            }
        }
    }

    /// Forgets the model when the facts table was rebuilt since it was loaded: it loads again.
    async fn notice_rebuild(&self, pool: &deadpool_postgres::Pool) -> anyhow::Result<()> {
        let now = store::facts::generation(&pool.get().await?).await?;
        let mut seen = self.inner.generation.lock().unwrap_or_else(|p| p.into_inner());
        if seen.is_some_and(|g| g != now) {
            tracing::info!(generation = now, "the facts were rebuilt; loading the read model again");
            self.inner.tenants.write().unwrap_or_else(|p| p.into_inner()).clear();
            self.inner.applied.store(0, Ordering::Release);
            self.inner.segments_seq.store(0, Ordering::Release);
            self.inner.loaded.store(false, Ordering::Release);
        }
        *seen = Some(now);
        Ok(())
    }

    /// Loads the saved segments written since the last ones loaded.
    pub async fn follow_segments(&self, pool: &deadpool_postgres::Pool) -> anyhow::Result<()> {
        loop {
            let conn = pool.get().await?;
            let changed =
                store::segments::changed_after(&conn, self.inner.segments_seq.load(Ordering::Acquire)).await?;
            // Settings written up to the last segment of this page (all of them when it is the last).
            let until = (changed.len() >= 1000).then(|| changed.last().map(|c| c.seq)).flatten();
            let after = self.inner.segments_seq.load(Ordering::Acquire);
            let settings = store::automatic::changed_after(&conn, after, until).await?;
            if changed.is_empty() && settings.is_empty() {
                return Ok(());
            }
            let mut top = after;
            for s in settings {
                let tenant = self.tenant_or_new(&s.tenant, &s.time_zone, &s.phone_region);
                let mut t = tenant.write().unwrap_or_else(|p| p.into_inner());
                t.automatic.settings = s.settings;
                t.automatic.version = s.version;
                t.automatic.updated_at = Some(s.updated_at);
                top = top.max(s.seq);
            }
            for c in changed {
                let tenant = self.tenant_or_new(&c.tenant, &c.time_zone, &c.phone_region);
                let mut t = tenant.write().unwrap_or_else(|p| p.into_inner());
                match c.segment {
                    Some(s) => t.segments.insert(c.id, s),
                    None => t.segments.remove(&c.id),
                };
                top = top.max(c.seq);
            }
            self.inner.segments_seq.store(top, Ordering::Release);
        }
    }

    /// Computes the built-in segments' thresholds and RFM scores of every tenant whose day turned
    /// (or whose settings changed) since they were last computed; returns how many were.
    pub fn refresh_automatic(&self, now: OffsetDateTime, every: time::Duration) -> usize {
        if !self.inner.loaded.load(Ordering::Acquire) {
            return 0;
        }
        let mut refreshed = 0;
        let facts = self.inner.applied.load(Ordering::Acquire);
        for (_, tenant) in self.tenants() {
            let (settings, version, computed) = {
                let t = tenant.read().unwrap_or_else(|p| p.into_inner());
                let today = t.today(now);
                if !t.automatic.due(today, now, facts, every) {
                    continue;
                }
                let computed = automatic::compute(&t.population, &t.automatic.settings, today);
                (t.automatic.settings.clone(), t.automatic.version, computed)
            };
            let mut t = tenant.write().unwrap_or_else(|p| p.into_inner());
            if t.automatic.settings != settings || t.automatic.version != version {
                continue; // changed meanwhile: the next pass computes again
            }
            let Tenant { population, segments, automatic, .. } = &mut *t;
            automatic::keep(population, segments, automatic, computed, version, (now, facts));
            refreshed += 1;
        }
        refreshed
    }

    /// Applies a batch: each tenant's facts in order under one write lock, its rows settled before
    /// the lock is released, so no answer sees half a batch.
    fn apply_all(&self, facts: Vec<store::facts::Stored>) {
        let Some(top) = facts.last().map(|f| f.seq) else { return };
        let mut last = None;
        let mut by_tenant: HashMap<String, Vec<store::facts::Stored>> = HashMap::new();
        for fact in facts {
            last = fact.event.occurred_at.as_ref().and_then(loyalty_platform::convert::from_timestamp).or(last);
            by_tenant.entry(fact.tenant.clone()).or_default().push(fact);
        }
        for (id, mine) in by_tenant {
            let tenant = self.tenant_or_new(&id, &mine[0].time_zone, &mine[0].phone_region);
            let mut t = tenant.write().unwrap_or_else(|p| p.into_inner());
            for fact in &mine {
                if let Some(loyalty_api::events::v1::event::Payload::TenantSettingsChanged(s)) = &fact.event.payload {
                    t.zone = loyalty_platform::tz::stored(&s.time_zone);
                    t.phone_region = s.default_phone_region.clone();
                    if !s.currency.is_empty() {
                        t.currency = s.currency.clone();
                    }
                }
                let zone = t.zone.clone();
                apply(&mut t.population, &fact.event, &zone);
            }
            t.population.settle();
        }
        self.inner.applied.store(top, Ordering::Release);
        if let Some(at) = last {
            *self.inner.as_of.lock().unwrap_or_else(|p| p.into_inner()) = Some(at);
        }
    }

    fn tenant_or_new(&self, id: &str, zone: &str, region: &str) -> Arc<RwLock<Tenant>> {
        if let Some(t) = self.tenant(id) {
            return t;
        }
        let mut all = self.inner.tenants.write().unwrap_or_else(|p| p.into_inner());
        all.entry(id.to_string()).or_insert_with(|| Arc::new(RwLock::new(Tenant::new(zone, region)))).clone()
    }
}
