//! Ids as types: a [`CardId`] cannot be passed where a [`ClientId`] is expected, and a value of one
//! of these types was read and checked at the edge (parse, don't validate). They go into SQL as
//! they are (`ToSql`/`FromSql` delegate to the inner `uuid`/`text`).
use crate::error::ApiError;
use std::fmt;
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};
use uuid::Uuid;

/// The longest text id (tenant, store) accepted.
pub const MAX_TEXT_ID: usize = 64;

/// A newtype stored in Postgres as its inner value.
macro_rules! stored_as {
    ($name:ident, $inner:ty) => {
        impl ToSql for $name {
            fn to_sql(
                &self,
                ty: &Type,
                out: &mut bytes::BytesMut,
            ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
                self.0.to_sql(ty, out)
            }

            fn accepts(ty: &Type) -> bool {
                <$inner as ToSql>::accepts(ty)
            }

            to_sql_checked!();
        }

        impl<'a> FromSql<'a> for $name {
            fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
                <$inner>::from_sql(ty, raw).map(Self)
            }

            fn accepts(ty: &Type) -> bool {
                <$inner as FromSql>::accepts(ty)
            }
        }
    };
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// A new id, ordered by creation time (UUID v7).
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            pub fn uuid(self) -> Uuid {
                self.0
            }

            /// Reads a required id from the wire; `field` names it in the error.
            pub fn parse(field: &str, text: &str) -> Result<Self, ApiError> {
                if text.is_empty() {
                    return Err(ApiError::field(field, "is required"));
                }
                Uuid::parse_str(text)
                    .map(Self)
                    .map_err(|_| ApiError::field(field, concat!("is not ", $what, " (a UUID)")))
            }

            /// Reads an optional id: empty means none.
            pub fn parse_optional(field: &str, text: &str) -> Result<Option<Self>, ApiError> {
                if text.is_empty() { Ok(None) } else { Self::parse(field, text).map(Some) }
            }

            /// Reads an id from another service's event; a bad one is that service's fault.
            pub fn from_event(text: &str) -> anyhow::Result<Self> {
                Uuid::parse_str(text)
                    .map(Self)
                    .map_err(|_| anyhow::anyhow!(concat!("the event names ", $what, " that is not a UUID: {:?}"), text))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        stored_as!($name, Uuid);
    };
}

uuid_id!(
    /// A person in a tenant's base (CL-1).
    ClientId,
    "a client id"
);
uuid_id!(
    /// A loyalty card (CA-1).
    CardId,
    "a card id"
);
uuid_id!(
    /// A recorded purchase (LE-6).
    PurchaseId,
    "a purchase id"
);
uuid_id!(
    /// Points held for an unpaid order (LE-5).
    ReservationId,
    "a reservation id"
);

macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        stored_as!($name, String);
    };
}

text_id!(
    /// One retail chain. Comes from the caller's token, never from a request body.
    TenantId
);
text_id!(
    /// A point of sale of a tenant ("VLN-01").
    StoreId
);

impl TenantId {
    /// The tenant named by a verified token or by an event of the tenant's own feed.
    pub fn trusted(text: &str) -> Self {
        Self(text.to_string())
    }
}

impl StoreId {
    /// Reads a store id from the wire: empty means none; letters, digits, `-`, `_` and `.` only.
    pub fn parse_optional(field: &str, text: &str) -> Result<Option<Self>, ApiError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        Self::check(text).map(|()| Some(Self(text.to_string()))).map_err(|reason| ApiError::field(field, reason))
    }

    /// Reads a required store id.
    pub fn parse(field: &str, text: &str) -> Result<Self, ApiError> {
        Self::parse_optional(field, text)?.ok_or_else(|| ApiError::field(field, "is required"))
    }

    /// The reason `text` is not a store id, if it is not.
    pub fn check(text: &str) -> Result<(), &'static str> {
        if text.chars().count() > MAX_TEXT_ID {
            return Err("is longer than 64 characters");
        }
        if !text.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.')) {
            return Err("may hold only letters, digits, '-', '_' and '.'");
        }
        Ok(())
    }

    /// A store id stored by this service or carried by a trusted event.
    pub fn trusted(text: &str) -> Self {
        Self(text.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_with_the_field_named_in_the_error() {
        let id = Uuid::now_v7();
        assert_eq!(ClientId::parse("client_id", &id.to_string()).ok().map(ClientId::uuid), Some(id));
        let err = ClientId::parse("client_id", "42").expect_err("not a uuid");
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert_eq!(err.to_string(), "client_id: is not a client id (a UUID)");
        assert!(CardId::parse_optional("card_id", "").expect("empty is none").is_none());
    }

    #[test]
    fn store_ids_are_plain_words() {
        assert!(StoreId::parse("store_id", "VLN-01").is_ok());
        assert!(StoreId::parse_optional("store_id", " ").expect("blank").is_none());
        assert!(StoreId::parse("store_id", "VLN 01").is_err());
        assert!(StoreId::parse("store_id", "a\0b").is_err());
        assert!(StoreId::parse("store_id", &"x".repeat(65)).is_err());
    }
}
