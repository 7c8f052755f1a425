//! Consent changes messaging makes on a client's behalf (a one-click unsubscribe, a Telegram user
//! who blocked the bot), recorded by the client service under messaging's own identity. The change
//! comes back on the client feed like any other.
use crate::domain::rules::Channel;
use loyalty_api::client::v1 as cpb;
use loyalty_api::client::v1::client_service_client::ClientServiceClient;
use loyalty_api::common::v1::ConsentStatus;
use loyalty_platform::identity::ServiceIdentity;
use uuid::Uuid;

#[derive(Clone)]
pub struct Unsubscriber {
    pub clients: tonic::transport::Channel,
    pub identity: ServiceIdentity,
}

impl Unsubscriber {
    /// Unsubscribes `client` of `tenant` from `channel`, recording `source` ("unsubscribe_link").
    /// A client erased or deleted since is left alone.
    pub async fn unsubscribe(&self, tenant: &str, client: Uuid, channel: Channel, source: &str) -> anyhow::Result<()> {
        let consent = cpb::ChannelConsent {
            channel: channel.contract(),
            status: ConsentStatus::Unsubscribed as i32,
            source: source.into(),
            ..Default::default()
        };
        let request = cpb::SetConsentRequest {
            client_id: client.to_string(),
            consents: vec![consent],
            source: source.into(),
            ..Default::default()
        };
        let mut clients = ClientServiceClient::new(self.clients.clone());
        match clients.set_consent(self.identity.request(tenant, request)?).await {
            Ok(_) => Ok(()),
            Err(s) if s.code() == tonic::Code::NotFound => Ok(()),
            Err(s) => anyhow::bail!("the client service refused the unsubscribe: {s}"),
        }
    }
}
