//! The demo chain's messaging: two templates a CRM team starts from, a draft campaign to one of the
//! demo segments and a birthday greeting trigger, switched off (no provider: set one with
//! `loyalty campaigns smtp` to send them).
use anyhow::Context;
use loyalty_api::common::v1::ContactChannel;
use loyalty_api::filter::v1::{Audience, audience::Source};
use loyalty_api::messaging::v1 as pb;
use loyalty_api::messaging::v1::messaging_service_client::MessagingServiceClient;
use loyalty_api::segment::v1 as spb;
use loyalty_platform::auth::BearerToken;
use tonic::transport::Channel;

fn newsletter() -> pb::Content {
    pb::Content {
        channel: ContactChannel::Email as i32,
        subject: "{first_name|Mielas kliente}, gruodžio pasiūlymai jau čia".into(),
        sender_name: "Demo parduotuvė".into(),
        body: "<h1>Sveiki, {first_name|drauge}!</h1>\
               <p>Jūsų sąskaitoje {points_balance} taškų. Mėgstamiausia kategorija: {favourite_category|visos}.</p>\
               <p><a href=\"https://shop.example/gruodis\">Žiūrėti pasiūlymus</a></p>\
               <p style=\"font-size:small\"><a href=\"{unsubscribe_url}\">Atsisakyti naujienlaiškio</a></p>"
            .into(),
        ..Default::default()
    }
}

fn points_sms() -> pb::Content {
    pb::Content {
        channel: ContactChannel::Sms as i32,
        body: "{first_name|Sveiki}, jusu saskaitoje {points_balance} tasku. Iki pasimatymo parduotuveje!".into(),
        ..Default::default()
    }
}

/// Creates the demo's templates and draft campaign; returns the report line.
pub async fn load(channel: Channel, token: &str) -> anyhow::Result<String> {
    let mut api = MessagingServiceClient::with_interceptor(channel.clone(), BearerToken::new(token)?);
    for (name, content) in [("Mėnesio naujienlaiškis", newsletter()), ("Taškų priminimas SMS", points_sms())] {
        let template = pb::Template { name: name.into(), content: Some(content), ..Default::default() };
        api.create_template(pb::CreateTemplateRequest { template: Some(template) }).await.context("demo templates")?;
    }
    let mut segments =
        spb::segment_service_client::SegmentServiceClient::with_interceptor(channel, BearerToken::new(token)?);
    let listed = segments.list_segments(spb::ListSegmentsRequest::default()).await?.into_inner();
    let audience = listed
        .segments
        .iter()
        .find(|s| s.name == "Women subscribed to e-mail")
        .map(|s| Audience { source: Some(Source::SegmentId(s.id.clone())) })
        .context("the demo segment the campaign goes to")?;
    let campaign = pb::Campaign {
        name: "Gruodžio naujienos".into(),
        audience: Some(audience),
        body: Some(pb::campaign::Body::Content(newsletter())),
        conversion_window_days: 7,
        ..Default::default()
    };
    api.create_campaign(pb::CreateCampaignRequest { campaign: Some(campaign) }).await.context("the demo campaign")?;
    let birthday = pb::Content {
        subject: "Su gimtadieniu, {first_name|drauge}!".into(),
        body: "<p>Sveikiname! Jūsų sąskaitoje {points_balance} taškų — išleiskite juos šią savaitę.</p>\
               <p style=\"font-size:small\"><a href=\"{unsubscribe_url}\">Atsisakyti</a></p>"
            .into(),
        ..newsletter()
    };
    let trigger = pb::Trigger {
        name: "Gimtadienio sveikinimas".into(),
        kind: pb::TriggerKind::Birthday as i32,
        send_at_local_time: "10:00".into(),
        body: Some(pb::trigger::Body::Content(birthday)),
        enabled: false,
        ..Default::default()
    };
    api.create_trigger(pb::CreateTriggerRequest { trigger: Some(trigger) }).await.context("the demo trigger")?;
    Ok("messaging: 2 templates, a draft campaign and a birthday trigger, off (loyalty campaigns list)".into())
}
