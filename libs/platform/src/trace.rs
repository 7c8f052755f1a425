//! W3C trace context across service hops: calls to other services carry the current span's
//! `traceparent`, and the server side continues it ([`crate::metrics::ObserveLayer`]), so a POS
//! purchase that asks the card service is one trace.
use opentelemetry::propagation::{Injector, TextMapPropagator};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

struct MetadataInjector<'a>(&'a mut tonic::metadata::MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) =
            (tonic::metadata::MetadataKey::from_bytes(key.as_bytes()), tonic::metadata::MetadataValue::try_from(value))
        {
            self.0.insert(key, value);
        }
    }
}

/// Adds the current span's trace context to an outgoing call's metadata.
pub fn inject(metadata: &mut tonic::metadata::MetadataMap) {
    let context = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&context, &mut MetadataInjector(metadata));
}

/// The current span's `traceparent`, or empty when there is no trace.
pub fn current_traceparent() -> String {
    let context = tracing::Span::current().context();
    let mut carrier = std::collections::HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove("traceparent").unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn a_call_to_another_service_carries_the_trace_of_the_request_it_is_made_for() {
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let subscriber =
            tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("rpc");
            let _entered = span.enter();
            let request = crate::auth::ForwardToken::default().request(());
            let parent = request.metadata().get("traceparent").and_then(|v| v.to_str().ok()).map(String::from);
            let parent = parent.expect("a traceparent header");
            assert_eq!(parent.split('-').count(), 4, "W3C traceparent: {parent}");
            assert_eq!(current_traceparent(), parent, "the same trace the events carry");
        });
    }
}
