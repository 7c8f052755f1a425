//! One check of every request, before any handler sees it: text Postgres cannot store and sizes no
//! retail CRM needs are INVALID_ARGUMENT naming the field, for every string field of every RPC.
//!
//! - No string may hold a NUL character (`\0`): Postgres refuses it in `text`.
//! - Strings have maximum lengths by field name ([`max_chars`]); lists at most [`MAX_LIST`]
//!   items and maps [`MAX_MAP`] entries. These are the documented limits of `proto/README.md`.
//!
//! The layer reads the request with the contracts' own descriptors (reflection), so a new field is
//! checked without anyone remembering to. Streaming uploads are checked by their handlers.
use crate::error::{Violations, invalid_argument};
use futures::future::BoxFuture;
use http_body_util::BodyExt;
use prost_reflect::{DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, Value};
use std::sync::Arc;
use std::task::{Context, Poll};
use tonic::body::Body;

/// The most items in one repeated field (ids of a bulk edit, lines of a check).
pub const MAX_LIST: usize = 10_000;
/// The most entries in one map field (custom attributes).
pub const MAX_MAP: usize = 100;
/// The largest request the layer reads (the server's gRPC limit is 4 MiB too).
const MAX_BODY: usize = 4 * 1024 * 1024 + 5;

/// The longest text `field` may hold, in characters.
pub fn max_chars(field: &str) -> usize {
    match field {
        "idempotency_key" => 200,
        "page_token" => 2_048,
        "query" | "comment" | "reason" | "credit_notice_template" | "description" | "filter" => 1_000,
        "notes" => 4_000,
        "filter_text" => 10_000,
        "html_body" | "text_body" | "body" | "json" => 256 * 1024,
        "url" | "wallet_link" | "link" | "image_url" | "call_to_action_url" => 2_048,
        f if f == "id" || f.ends_with("_id") => 128,
        _ => 500,
    }
}

/// Every problem of `message`, with field paths as the contracts name them (`lines[2].sku`).
pub fn check(message: &DynamicMessage) -> Violations {
    let mut v = Violations::new();
    walk(message, "", &mut v);
    v
}

fn walk(message: &DynamicMessage, prefix: &str, v: &mut Violations) {
    for (field, value) in message.fields() {
        let path = format!("{prefix}{}", field.name());
        check_value(&field, value, &path, v);
    }
}

fn check_value(field: &FieldDescriptor, value: &Value, path: &str, v: &mut Violations) {
    match value {
        Value::String(text) => check_text(field.name(), text, path, v),
        Value::Message(inner) => walk(inner, &format!("{path}."), v),
        Value::List(items) => {
            if items.len() > MAX_LIST {
                v.add(path, format!("holds {} items; at most {MAX_LIST} per request", items.len()));
                return;
            }
            for (i, item) in items.iter().enumerate() {
                check_value(field, item, &format!("{path}[{i}]"), v);
            }
        }
        Value::Map(entries) => {
            if entries.len() > MAX_MAP {
                v.add(path, format!("holds {} entries; at most {MAX_MAP}", entries.len()));
                return;
            }
            let value_field = match field.kind() {
                Kind::Message(entry) => entry.map_entry_value_field(),
                _ => field.clone(),
            };
            for (key, item) in entries {
                if let MapKey::String(k) = key {
                    check_text("key", k, &format!("{path}[{k:?}]"), v);
                }
                let key_text = match key {
                    MapKey::String(k) => k.clone(),
                    other => format!("{other:?}"),
                };
                check_value(&value_field, item, &format!("{path}[{key_text:?}]"), v);
            }
        }
        _ => {}
    }
}

fn check_text(name: &str, text: &str, path: &str, v: &mut Violations) {
    if text.contains('\0') {
        v.add(path, "must not contain a NUL character (\\0)");
    }
    let max = max_chars(name);
    // Counting characters only when the bytes could exceed the limit keeps the common case cheap.
    if text.len() > max && text.chars().count() > max {
        v.add(path, format!("is longer than {max} characters"));
    }
}

/// The tower layer that runs [`check`] on every unary and server-streaming request.
#[derive(Clone)]
pub struct InputLayer {
    pool: Arc<DescriptorPool>,
}

impl InputLayer {
    pub fn new() -> anyhow::Result<Self> {
        let pool = DescriptorPool::decode(loyalty_api::FILE_DESCRIPTOR_SET)?;
        Ok(Self { pool: Arc::new(pool) })
    }

    /// The input message of `path` (`/loyalty.client.v1.ClientService/GetClient`), unless the
    /// method streams its requests.
    fn input_of(&self, path: &str) -> Option<MessageDescriptor> {
        let (service, method) = path.trim_start_matches('/').split_once('/')?;
        let method = self.pool.get_service_by_name(service)?.methods().find(|m| m.name() == method)?;
        (!method.is_client_streaming()).then(|| method.input())
    }
}

impl<S> tower::Layer<S> for InputLayer {
    type Service = InputService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        InputService { inner, layer: self.clone() }
    }
}

#[derive(Clone)]
pub struct InputService<S> {
    inner: S,
    layer: InputLayer,
}

/// Every gRPC message in `bytes` (a 5-byte header, then the message), or `None` when the body is not
/// plain gRPC framing (compressed, truncated): then the handler's own decoding answers.
fn frames(bytes: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        if rest.len() < 5 || rest[0] != 0 {
            return None;
        }
        let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
        let end = 5usize.checked_add(len)?;
        out.push(rest.get(5..end)?);
        rest = &rest[end..];
    }
    Some(out)
}

impl<S> tower::Service<http::Request<Body>> for InputService<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let clone = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, clone);
        let Some(input) = self.layer.input_of(req.uri().path()) else {
            return Box::pin(async move { ready.call(req).await });
        };
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let limited = http_body_util::Limited::new(body, MAX_BODY);
            let bytes = match limited.collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(_) => {
                    let status = tonic::Status::resource_exhausted("the request is larger than 4 MiB");
                    return Ok(status.into_http());
                }
            };
            let mut violations = Violations::new();
            for frame in frames(&bytes).unwrap_or_default() {
                if let Ok(message) = DynamicMessage::decode(input.clone(), frame) {
                    violations.extend(check(&message));
                }
            }
            if !violations.is_empty() {
                return Ok(invalid_argument(&violations).into_http());
            }
            let body = Body::new(http_body_util::Full::new(bytes));
            ready.call(http::Request::from_parts(parts, body)).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    fn dynamic<M: Message>(name: &str, message: &M) -> DynamicMessage {
        let pool = DescriptorPool::decode(loyalty_api::FILE_DESCRIPTOR_SET).expect("descriptors");
        let desc = pool.get_message_by_name(name).expect("message");
        DynamicMessage::decode(desc, message.encode_to_vec().as_slice()).expect("decodes")
    }

    #[test]
    fn nul_bytes_and_long_text_are_named_by_their_path() {
        use loyalty_api::client::v1 as pb;
        let request = pb::CreateClientRequest {
            client: Some(pb::Client {
                first_name: "Ona\0".into(),
                notes: "x".repeat(4_001),
                custom_attributes: [("vip\0".to_string(), loyalty_api::common::v1::AttributeValue::default())].into(),
                ..Default::default()
            }),
            context: Some(loyalty_api::common::v1::RequestContext {
                idempotency_key: "k".repeat(201),
                ..Default::default()
            }),
            ..Default::default()
        };
        let v = check(&dynamic("loyalty.client.v1.CreateClientRequest", &request));
        let fields: Vec<&str> = v.iter().map(|(f, _)| f).collect();
        assert!(fields.contains(&"client.first_name"), "{v}");
        assert!(fields.contains(&"client.notes"), "{v}");
        assert!(fields.contains(&"context.idempotency_key"), "{v}");
        assert!(fields.iter().any(|f| f.starts_with("client.custom_attributes[")), "{v}");
        assert!(v.to_string().contains("NUL"), "{v}");
    }

    #[test]
    fn ordinary_requests_pass_and_lists_have_a_ceiling() {
        use loyalty_api::client::v1 as pb;
        let ok = pb::BatchGetClientsRequest { client_ids: vec!["a".into(); 3] };
        assert!(check(&dynamic("loyalty.client.v1.BatchGetClientsRequest", &ok)).is_empty());
        let long = pb::BatchGetClientsRequest { client_ids: vec!["a".into(); MAX_LIST + 1] };
        let v = check(&dynamic("loyalty.client.v1.BatchGetClientsRequest", &long));
        assert_eq!(v.iter().map(|(f, _)| f).collect::<Vec<_>>(), ["client_ids"]);
    }

    #[test]
    fn frames_are_split_and_broken_framing_is_left_to_the_handler() {
        let body = [0u8, 0, 0, 0, 2, 8, 1, 0, 0, 0, 0, 0];
        assert_eq!(frames(&body), Some(vec![&[8u8, 1][..], &[][..]]));
        assert_eq!(frames(&[1, 0, 0, 0, 0]), None, "compressed");
        assert_eq!(frames(&[0, 0, 0, 0, 9, 1]), None, "truncated");
    }
}
