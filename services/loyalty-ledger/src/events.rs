//! Events the ledger publishes from its own sweeps, in the transaction of the change (LE-5 timeouts,
//! LE-8 activation and expiry): read models and messaging learn of expired points the way they
//! learn of purchases.
use crate::balances::View;
use crate::store::NewEntry;
use loyalty_api::common::v1::{Actor, actor::Kind};
use loyalty_api::events::v1::{self as ev, event::Payload};
use loyalty_platform::convert::to_timestamp;
use uuid::Uuid;

/// The ledger itself, as the actor of what its sweeps change.
pub fn sweep_actor() -> Actor {
    Actor { kind: Kind::System as i32, id: String::new(), name: "ledger-sweep".into(), ..Default::default() }
}

fn event(tenant: &str, client: Uuid, payload: Payload) -> ev::Event {
    loyalty_platform::outbox::event(tenant, sweep_actor(), &client.to_string(), payload)
}

/// The balances of `view` as the `BalanceChanged` payload.
pub fn balance_changed(client: Uuid, view: &View) -> ev::BalanceChanged {
    let b = &view.balance;
    ev::BalanceChanged {
        client_id: client.to_string(),
        available: b.available,
        pending: b.pending,
        reserved: b.reserved,
        used: b.used,
        expired: b.expired,
        debt: b.debt,
        next_expiry_at: view.next_expiry_at.map(to_timestamp),
        next_expiry_points: view.next_expiry_points,
        ..Default::default()
    }
}

/// A `PointsLotChanged` for every lot that activated or expired among `entries`, whichever call
/// advanced the account (the sweep, or a purchase that came first): the system did it.
pub fn lot_changes(tenant: &str, client: Uuid, entries: &[NewEntry<'_>]) -> Vec<ev::Event> {
    entries
        .iter()
        .filter(|e| e.kind == "activated" || e.kind == "expired")
        .map(|e| {
            let payload = ev::PointsLotChanged {
                lot_id: e.lot_no.map(|l| l.to_string()).unwrap_or_default(),
                client_id: client.to_string(),
                points: e.points.abs(),
                change: e.kind.into(),
                expires_at: None,
            };
            event(tenant, client, Payload::PointsLotChanged(payload))
        })
        .collect()
}

/// The account's new balances after a sweep changed it.
pub fn balance(tenant: &str, client: Uuid, view: &View) -> ev::Event {
    event(tenant, client, Payload::BalanceChanged(balance_changed(client, view)))
}

/// A reservation that ran out of time, and the account's new balances.
pub fn timed_out(
    tenant: &str,
    client: Uuid,
    reservation: Uuid,
    (points, order_ref): (i64, &str),
    view: &View,
) -> Vec<ev::Event> {
    let payload = ev::ReservationChanged {
        reservation_id: reservation.to_string(),
        client_id: client.to_string(),
        points,
        state: "timed_out".into(),
        order_ref: order_ref.into(),
    };
    vec![event(tenant, client, Payload::ReservationChanged(payload)), balance(tenant, client, view)]
}
