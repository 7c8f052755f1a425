//! Generated gRPC code for every loyalty-suite contract in `proto/`, one module per package, and
//! the file descriptor set that servers register for reflection.

/// Encoded `FileDescriptorSet` of every loyalty proto, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("loyalty_descriptor");

macro_rules! package {
    ($name:ident, $path:literal) => {
        pub mod $name {
            pub mod v1 {
                tonic::include_proto!($path);
            }
        }
    };
}

package!(common, "loyalty.common.v1");
package!(events, "loyalty.events.v1");
package!(client, "loyalty.client.v1");
package!(card, "loyalty.card.v1");
package!(ledger, "loyalty.ledger.v1");
package!(filter, "loyalty.filter.v1");
package!(segment, "loyalty.segment.v1");
package!(messaging, "loyalty.messaging.v1");
package!(importexport, "loyalty.importexport.v1");

impl events::v1::event::Payload {
    /// The payload's field name in `Event` ("client_blocked"): the `kind` of outbox rows and the
    /// value `WatchEventsRequest.kinds` filters on.
    pub fn kind(&self) -> &'static str {
        use events::v1::event::Payload as P;
        match self {
            P::ClientUpserted(_) => "client_upserted",
            P::ClientDeleted(_) => "client_deleted",
            P::ClientBlocked(_) => "client_blocked",
            P::ClientUnblocked(_) => "client_unblocked",
            P::ConsentChanged(_) => "consent_changed",
            P::ClientTagsChanged(_) => "client_tags_changed",
            P::TagChanged(_) => "tag_changed",
            P::ClientsMerged(_) => "clients_merged",
            P::ClientErased(_) => "client_erased",
            P::StoreChanged(_) => "store_changed",
            P::TenantSettingsChanged(_) => "tenant_settings_changed",
            P::CardChanged(_) => "card_changed",
            P::CardReplaced(_) => "card_replaced",
            P::CardsMerged(_) => "cards_merged",
            P::CardSettingsChanged(_) => "card_settings_changed",
            P::PurchaseRecorded(_) => "purchase_recorded",
            P::PurchaseReturned(_) => "purchase_returned",
            P::PointsAdjusted(_) => "points_adjusted",
            P::PointsLotChanged(_) => "points_lot_changed",
            P::ReservationChanged(_) => "reservation_changed",
            P::BalanceChanged(_) => "balance_changed",
            P::LevelChanged(_) => "level_changed",
            P::PointsNotificationRequested(_) => "points_notification_requested",
            P::ProgrammeChanged(_) => "programme_changed",
            P::AccountBlockChanged(_) => "account_block_changed",
            P::SegmentChanged(_) => "segment_changed",
            P::SegmentMembershipChanged(_) => "segment_membership_changed",
            P::DeliveryChanged(_) => "delivery_changed",
            P::CampaignChanged(_) => "campaign_changed",
            P::JobChanged(_) => "job_changed",
        }
    }
}
