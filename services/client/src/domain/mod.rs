//! The client service's rules as plain types and functions, tested without a database.
pub mod email;
pub mod merge;
pub use loyalty_platform::phone;
pub mod profile;
pub mod search;
pub use loyalty_platform::text;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

pub use profile::Profile;

/// Participation status (CL-3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Member,
    Subscriber,
    Blocked,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Member => "member",
            Status::Subscriber => "subscriber",
            Status::Blocked => "blocked",
        }
    }

    pub fn parse(s: &str) -> Status {
        match s {
            "subscriber" => Status::Subscriber,
            "blocked" => Status::Blocked,
            _ => Status::Member,
        }
    }
}

/// Why and by whom a client is blocked (CL-4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    pub comment: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub by_id: String,
    pub by_name: String,
    pub previous_status: Status,
}

/// A yes/no agreement with its record (personal-data processing, third-party transfer).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agreement {
    pub granted: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub changed_at: OffsetDateTime,
    pub source: String,
}

/// One channel's consent (CL-5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Consent {
    /// "email", "sms", "push", "telegram".
    pub channel: String,
    /// "subscribed", "unsubscribed", "unknown".
    pub status: String,
    pub changed_at: OffsetDateTime,
    pub source: String,
    pub address: String,
}

/// A client as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct ClientRecord {
    pub id: Uuid,
    pub profile: Profile,
    pub status: Status,
    pub block: Option<Block>,
    pub registered_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub version: i64,
    pub merged_client_ids: Vec<Uuid>,
    pub erased: bool,
    pub tag_ids: Vec<Uuid>,
    pub consents: Vec<Consent>,
    pub personal_data_consent: Option<Agreement>,
    pub third_party_consent: Option<Agreement>,
    /// Stores the client bought in (from the ledger's feed): part of a store scope (CL-11).
    pub purchase_store_ids: Vec<String>,
}

impl ClientRecord {
    /// A client registered at `registered_at` (now, or a migration's original time), written
    /// `now`: version 1, no tags, consents or merges yet.
    pub fn registered(profile: Profile, status: Status, registered_at: OffsetDateTime, now: OffsetDateTime) -> Self {
        ClientRecord {
            id: Uuid::now_v7(),
            profile,
            status,
            block: None,
            registered_at,
            updated_at: now,
            version: 1,
            merged_client_ids: vec![],
            erased: false,
            tag_ids: vec![],
            consents: vec![],
            personal_data_consent: None,
            third_party_consent: None,
            purchase_store_ids: vec![],
        }
    }

    /// The etag of this version (AIP-154).
    pub fn etag(&self) -> String {
        format!("v{}", self.version)
    }
}

pub const CHANNELS: [&str; 4] = ["email", "sms", "push", "telegram"];
