//! A client's points as lots (LE-1, LE-4, LE-5, LE-8): earned in lots with their own activation and
//! expiry, spent first-expiring-first, held by reservations, expired at their exact instant.
//!
//! The invariant every operation keeps, and the property tests try to break:
//! earned = available + pending + reserved + used + expired + cancelled, and no lot is ever below
//! zero or holds more than it has.
use time::OffsetDateTime;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LotState {
    Pending,
    Active,
    Expired,
    Cancelled,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lot {
    pub id: u64,
    pub earned: i64,
    /// Not yet spent, expired or cancelled (held points included).
    pub remaining: i64,
    /// Part of `remaining` held by open reservations.
    pub held: i64,
    pub activates_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    pub state: LotState,
}

impl Lot {
    fn spendable(&self) -> i64 {
        if self.state == LotState::Active { self.remaining - self.held } else { 0 }
    }
}

/// Balances in every state (LE-1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Balance {
    pub available: i64,
    pub pending: i64,
    pub reserved: i64,
    pub used: i64,
    pub expired: i64,
    pub cancelled: i64,
    pub debt: i64,
}

/// What changed in a lot: the ledger writes one entry per change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LotChange {
    Activated { lot: u64, points: i64 },
    Expired { lot: u64, points: i64 },
    Spent { lot: u64, points: i64 },
    Held { lot: u64, points: i64 },
    Released { lot: u64, points: i64 },
    Cancelled { lot: u64, points: i64 },
    DebtPaid { lot: u64, points: i64 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insufficient {
    pub available: i64,
    pub wanted: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Account {
    pub lots: Vec<Lot>,
    pub used: i64,
    pub expired: i64,
    pub cancelled: i64,
    pub debt: i64,
    next_lot: u64,
}

/// Running totals of an account that do not live in its lots.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub used: i64,
    pub expired: i64,
    pub cancelled: i64,
    pub debt: i64,
}

impl Account {
    /// An account as stored: its open lots, its totals and the number its next lot takes.
    pub fn restore(lots: Vec<Lot>, totals: Totals, next_lot: u64) -> Self {
        Self {
            lots,
            used: totals.used,
            expired: totals.expired,
            cancelled: totals.cancelled,
            debt: totals.debt,
            next_lot,
        }
    }

    pub fn next_lot(&self) -> u64 {
        self.next_lot
    }

    pub fn balance(&self) -> Balance {
        let sum = |f: &dyn Fn(&Lot) -> i64| self.lots.iter().map(f).sum::<i64>();
        Balance {
            available: sum(&|l| l.spendable()),
            pending: sum(&|l| if l.state == LotState::Pending { l.remaining } else { 0 }),
            reserved: sum(&|l| l.held),
            used: self.used,
            expired: self.expired,
            cancelled: self.cancelled,
            debt: self.debt,
        }
    }

    /// Everything ever earned.
    pub fn earned(&self) -> i64 {
        self.lots.iter().map(|l| l.earned).sum()
    }

    /// Activates due pending lots and expires due active ones, at their exact instants. Held points
    /// do not expire while held; they expire when released after the lot's expiry.
    pub fn advance(&mut self, now: OffsetDateTime) -> Vec<LotChange> {
        let mut changes = Vec::new();
        for lot in &mut self.lots {
            if lot.state == LotState::Pending && lot.activates_at <= now {
                lot.state = LotState::Active;
                changes.push(LotChange::Activated { lot: lot.id, points: lot.remaining });
            }
            if lot.state == LotState::Active && lot.expires_at.is_some_and(|e| e <= now) {
                let points = lot.remaining - lot.held;
                if points > 0 {
                    lot.remaining -= points;
                    self.expired += points;
                    changes.push(LotChange::Expired { lot: lot.id, points });
                }
                if lot.remaining == 0 {
                    lot.state = LotState::Expired;
                }
            }
        }
        changes
    }

    /// Adds a lot of `points`; an open debt (returns under `allow_debt`) is paid from it first.
    pub fn earn(
        &mut self,
        points: i64,
        activates_at: OffsetDateTime,
        expires_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> (u64, Vec<LotChange>) {
        self.next_lot += 1;
        let id = self.next_lot;
        let mut changes = Vec::new();
        let pay = self.debt.min(points.max(0));
        let state = if activates_at <= now { LotState::Active } else { LotState::Pending };
        self.lots.push(Lot { id, earned: points, remaining: points - pay, held: 0, activates_at, expires_at, state });
        if pay > 0 {
            self.debt -= pay;
            self.used += pay;
            changes.push(LotChange::DebtPaid { lot: id, points: pay });
        }
        (id, changes)
    }

    /// Active lots in the order points leave them: first expiring first, never-expiring last,
    /// then oldest first.
    fn spending_order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.lots.len()).filter(|i| self.lots[*i].spendable() > 0).collect();
        order.sort_by_key(|i| {
            let l = &self.lots[*i];
            (l.expires_at.is_none(), l.expires_at, l.activates_at, l.id)
        });
        order
    }

    fn take(
        &mut self,
        points: i64,
        mut apply: impl FnMut(&mut Lot, i64) -> LotChange,
    ) -> Result<Vec<LotChange>, Insufficient> {
        let available = self.balance().available;
        if points <= 0 || points > available {
            return Err(Insufficient { available, wanted: points });
        }
        let mut left = points;
        let mut changes = Vec::new();
        for i in self.spending_order() {
            if left == 0 {
                break;
            }
            let lot = &mut self.lots[i];
            let take = left.min(lot.spendable());
            changes.push(apply(lot, take));
            left -= take;
        }
        Ok(changes)
    }

    /// Spends `points` first-expiring-first (LE-4, LE-8).
    pub fn spend(&mut self, points: i64) -> Result<Vec<LotChange>, Insufficient> {
        let changes = self.take(points, |lot, take| {
            lot.remaining -= take;
            LotChange::Spent { lot: lot.id, points: take }
        })?;
        self.used += points;
        Ok(changes)
    }

    /// Holds `points` for a reservation (LE-5); they leave `available` at once.
    pub fn hold(&mut self, points: i64) -> Result<Vec<LotChange>, Insufficient> {
        self.take(points, |lot, take| {
            lot.held += take;
            LotChange::Held { lot: lot.id, points: take }
        })
    }

    /// Spends `spend` of what `holds` reserved and releases the rest (commit, partial commit,
    /// cancel with `spend = 0`). Released points of lots that expired meanwhile expire now.
    pub fn close_hold(&mut self, holds: &[(u64, i64)], spend: i64, now: OffsetDateTime) -> Vec<LotChange> {
        let mut left = spend.max(0);
        let mut changes = Vec::new();
        for (lot_id, held) in holds {
            let Some(lot) = self.lots.iter_mut().find(|l| l.id == *lot_id) else { continue };
            let held = (*held).min(lot.held);
            let spent = left.min(held);
            lot.held -= held;
            lot.remaining -= spent;
            left -= spent;
            self.used += spent;
            if spent > 0 {
                changes.push(LotChange::Spent { lot: lot.id, points: spent });
            }
            if held > spent {
                changes.push(LotChange::Released { lot: lot.id, points: held - spent });
            }
        }
        changes.extend(self.advance(now));
        changes
    }

    /// Gives back `points` spent on a returned purchase, as a new active lot with the given
    /// validity. A refund restores points rather than earning new ones: `used` drops, `earned` stays.
    pub fn refund(&mut self, points: i64, expires_at: Option<OffsetDateTime>, now: OffsetDateTime) -> u64 {
        let points = points.clamp(0, self.used);
        self.used -= points;
        self.next_lot += 1;
        let id = self.next_lot;
        self.lots.push(Lot {
            id,
            earned: 0,
            remaining: points,
            held: 0,
            activates_at: now,
            expires_at,
            state: LotState::Active,
        });
        id
    }

    /// Cancels `points` earned by lot `lot_id` (a returned purchase) as the policy allows. Pending
    /// points of the lot always go. Under `within_balance` and `allow_debt`, what the lot no longer
    /// has is taken from the rest of the balance; what the balance cannot cover is forgiven under
    /// `within_balance` and owed under `allow_debt`. `only_pending` cancels nothing active.
    /// Returns (cancelled, shortfall, changes).
    pub fn cancel_earned(
        &mut self,
        lot_id: u64,
        points: i64,
        policy: super::programme::ReturnPolicy,
    ) -> (i64, i64, Vec<LotChange>) {
        use super::programme::ReturnPolicy;
        let mut changes = Vec::new();
        let mut cancelled = 0;
        if let Some(lot) = self.lots.iter_mut().find(|l| l.id == lot_id) {
            let cancellable = match (lot.state, policy) {
                (LotState::Pending, _) => lot.remaining,
                (LotState::Active, ReturnPolicy::OnlyPending) => 0,
                (LotState::Active, _) => lot.remaining - lot.held,
                _ => 0,
            };
            cancelled = points.min(cancellable).max(0);
            lot.remaining -= cancelled;
            if cancelled > 0 && lot.remaining == 0 && lot.held == 0 {
                lot.state = LotState::Cancelled;
            }
            if cancelled > 0 {
                changes.push(LotChange::Cancelled { lot: lot_id, points: cancelled });
            }
        }
        self.cancelled += cancelled;
        let mut shortfall = points.max(0) - cancelled;
        if shortfall > 0 && policy != ReturnPolicy::OnlyPending {
            // Take what the rest of the account has.
            let from_others = shortfall.min(self.balance().available);
            if from_others > 0
                && let Ok(mut more) = self.take(from_others, |l, take| {
                    l.remaining -= take;
                    LotChange::Cancelled { lot: l.id, points: take }
                })
            {
                self.cancelled += from_others;
                cancelled += from_others;
                changes.append(&mut more);
                shortfall -= from_others;
            }
        }
        if shortfall > 0 && policy == ReturnPolicy::AllowDebt {
            // What could not be taken is owed and paid from future earnings (see `earn`).
            self.debt += shortfall;
        }
        (cancelled, shortfall, changes)
    }
}
