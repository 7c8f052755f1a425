//! Message content checked once and rendered per recipient (ME-3).
use super::placeholders::Template;
use super::rules::Channel;
use crate::store::contacts::Contact;
use loyalty_api::messaging::v1 as pb;
use loyalty_platform::error::Violations;

/// Content ready to render: each text parsed once.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub channel: Channel,
    pub subject: Template,
    pub body: Template,
    /// Email: the plain-text part, when written apart from the HTML.
    pub text: Option<Template>,
    pub sender_name: String,
    pub image_urls: Vec<String>,
    pub call_to_action: Option<(String, String)>,
    /// Links a recipient may follow through the click redirect, by their place in this list.
    pub links: Vec<String>,
}

/// One recipient's message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    /// HTML for email, the text itself for the other channels.
    pub body: String,
    /// Email: the plain-text part.
    pub text: String,
}

/// The most characters of a subject, and of a body.
const MAX_SUBJECT: usize = 998;
const MAX_BODY: usize = 500_000;

/// Checks `content` (at `field`: "campaign.content") and parses its texts. A marketing email
/// must carry `{unsubscribe_url}` (a recipient can always leave).
pub fn prepare(content: Option<&pb::Content>, field: &str, marketing: bool) -> Result<Prepared, Violations> {
    let mut v = Violations::new();
    let Some(c) = content else {
        v.add(field, "give the content: channel and body");
        return Err(v);
    };
    let channel = Channel::from_contract(c.channel);
    if channel.is_none() {
        v.add(format!("{field}.channel"), "choose email, SMS, push or Telegram");
    }
    let mut parse = |name: &str, text: &str, limit: usize| -> Template {
        if text.chars().count() > limit {
            v.add(format!("{field}.{name}"), format!("is longer than {limit} characters"));
            return Template::default();
        }
        Template::parse(text).unwrap_or_else(|e| {
            v.add(format!("{field}.{name}"), &e);
            Template::default()
        })
    };
    let subject = parse("subject", &c.subject, MAX_SUBJECT);
    let body = parse("body", &c.body, MAX_BODY);
    let text = (!c.text_body.is_empty()).then(|| parse("text_body", &c.text_body, MAX_BODY));
    if c.body.trim().is_empty() {
        v.add(format!("{field}.body"), "is empty: write what the message says");
    }
    if channel == Some(Channel::Email) {
        if c.subject.trim().is_empty() {
            v.add(format!("{field}.subject"), "an email needs a subject");
        }
        if marketing && !body.uses("unsubscribe_url") {
            v.add(format!("{field}.body"), "a marketing email must carry the {unsubscribe_url} link");
        }
    }
    if c.subject.contains(['\r', '\n']) {
        v.add(format!("{field}.subject"), "is one line: it holds a line break");
    }
    for (i, url) in c.image_urls.iter().enumerate() {
        if !is_web_url(url) {
            v.add(format!("{field}.image_urls[{i}]"), "is not an http(s) URL");
        }
    }
    let cta =
        (!c.call_to_action_url.is_empty()).then(|| (c.call_to_action_url.clone(), c.call_to_action_label.clone()));
    if !c.call_to_action_url.is_empty() && !is_web_url(&c.call_to_action_url) {
        v.add(format!("{field}.call_to_action_url"), "is not an http(s) URL");
    }
    if !v.is_empty() {
        return Err(v);
    }
    Ok(Prepared {
        links: links_of(c),
        channel: channel.unwrap_or(Channel::Email),
        subject,
        body,
        text,
        sender_name: c.sender_name.clone(),
        image_urls: c.image_urls.clone(),
        call_to_action: cta,
    })
}

/// The links of `c` that clicks are counted on: each http(s) `href` of the body written without
/// a placeholder (a link that differs per recipient is left as it is), then the call to action.
pub fn links_of(c: &pb::Content) -> Vec<String> {
    let mut links = Vec::new();
    let mut rest = c.body.as_str();
    while let Some(at) = rest.find("href=\"") {
        rest = &rest[at + 6..];
        let Some(end) = rest.find('"') else { break };
        let link = &rest[..end];
        if is_web_url(link) && !link.contains(['{', '}']) && !links.iter().any(|l| l == link) {
            links.push(link.to_string());
        }
        rest = &rest[end..];
    }
    if is_web_url(&c.call_to_action_url) && !links.contains(&c.call_to_action_url) {
        links.push(c.call_to_action_url.clone());
    }
    links
}

/// `html` with each of `links` sent through `via(its place)` and the open pixel at `pixel` added.
pub fn tracked(html: &str, links: &[String], via: &dyn Fn(usize) -> String, pixel: &str) -> String {
    let mut out = html.to_string();
    for (i, link) in links.iter().enumerate() {
        let mut escaped = String::new();
        super::placeholders::escape_html(&mut escaped, link);
        let target = format!("href=\"{}\"", via(i));
        out = out.replace(&format!("href=\"{link}\""), &target);
        out = out.replace(&format!("href=\"{escaped}\""), &target);
    }
    out.push_str(&format!("\n<img src=\"{pixel}\" width=\"1\" height=\"1\" alt=\"\">"));
    out
}

fn is_web_url(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://")) && !url.contains(char::is_whitespace) && url.len() > 8
}

impl Prepared {
    /// The message for `contact`, with `unsubscribe_url` for the link that unsubscribes them.
    pub fn render(&self, contact: &Contact, unsubscribe_url: &str) -> Rendered {
        let value = |name: &str| value(contact, name, unsubscribe_url);
        let html = self.channel == Channel::Email;
        let subject = self.subject.render(&value, false);
        let mut body = self.body.render(&value, html);
        if html {
            body.push_str(&self.extras());
        }
        let text = match (&self.text, html) {
            (Some(t), true) => t.render(&value, false),
            (None, true) => text_of_html(&body),
            (_, false) => String::new(),
        };
        Rendered { subject, body, text }
    }

    /// Images and the call to action, appended to an HTML body.
    fn extras(&self) -> String {
        let mut out = String::new();
        for url in &self.image_urls {
            out.push_str("\n<p><img src=\"");
            super::placeholders::escape_html(&mut out, url);
            out.push_str("\" alt=\"\"></p>");
        }
        if let Some((url, label)) = &self.call_to_action {
            out.push_str("\n<p><a href=\"");
            super::placeholders::escape_html(&mut out, url);
            out.push_str("\">");
            super::placeholders::escape_html(&mut out, if label.is_empty() { url } else { label });
            out.push_str("</a></p>");
        }
        out
    }
}

/// What a placeholder says for `c`.
pub fn value(c: &Contact, name: &str, unsubscribe_url: &str) -> String {
    match name {
        "first_name" => c.first_name.clone(),
        "last_name" => c.last_name.clone(),
        "full_name" => format!("{} {}", c.first_name, c.last_name).trim().to_string(),
        "email" => c.email.clone(),
        "phone" => c.phone.clone(),
        "city" => c.city.clone(),
        "points_balance" => c.points_balance.to_string(),
        "last_purchase_date" => c.last_purchase_at.map(|t| t.date().to_string()).unwrap_or_default(),
        "last_purchase_amount" => {
            match (c.last_purchase_minor, loyalty_platform::money::Currency::known(&c.currency)) {
                (Some(minor), Some(currency)) => loyalty_platform::money::format_minor(minor, currency),
                _ => String::new(),
            }
        }
        "favourite_category" => c.favourite_category.clone(),
        "unsubscribe_url" => unsubscribe_url.to_string(),
        _ => String::new(),
    }
}

/// A plain-text reading of an HTML body: tags dropped, paragraphs and breaks as new lines, links
/// written out after their text, the common entities decoded.
pub fn text_of_html(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('>') else {
            out.push_str(&rest[open..]);
            rest = "";
            break;
        };
        let tag = &rest[open + 1..open + close];
        let lower = tag.to_ascii_lowercase();
        if lower.starts_with("br") || lower.starts_with("/p") || lower.starts_with("/div") || lower.starts_with("/h") {
            out.push('\n');
        } else if lower.starts_with("a ")
            && let Some(href) = attribute(tag, "href")
        {
            out.push_str(&format!("[{href}] "));
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    let decoded = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    decoded.lines().map(str::trim).collect::<Vec<_>>().join("\n").trim().to_string()
}

fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let at = tag.find(&format!("{name}=\""))? + name.len() + 2;
    let end = tag[at..].find('"')?;
    Some(&tag[at..at + end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(body: &str) -> pb::Content {
        pb::Content {
            channel: loyalty_api::common::v1::ContactChannel::Email as i32,
            subject: "Sveiki, {first_name|drauge}".into(),
            body: body.into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_marketing_email_without_an_unsubscribe_link_is_refused_by_field() {
        let v = prepare(Some(&email("<p>Akcija!</p>")), "campaign.content", true).expect_err("no link");
        assert!(v.to_string().contains("campaign.content.body"), "{v}");
        assert!(v.to_string().contains("{unsubscribe_url}"), "{v}");
        assert!(prepare(Some(&email("<p>Akcija!</p>")), "content", false).is_ok(), "a notice needs none");
    }

    #[test]
    fn every_mistake_is_named_at_once() {
        let content = pb::Content { subject: "x\ny".into(), image_urls: vec!["ftp://x".into()], ..email("{nope}") };
        let v = prepare(Some(&content), "content", true).expect_err("bad").to_string();
        for field in ["content.subject", "content.body", "content.image_urls[0]"] {
            assert!(v.contains(field), "{field} in {v}");
        }
        assert!(prepare(None, "content", true).is_err());
    }

    #[test]
    fn links_go_through_the_redirect_by_their_place_and_personal_ones_stay() {
        let mut c = email(
            "<a href=\"https://shop.lt/a?x=1&y=2\">A</a> <a href=\"https://shop.lt/{city}\">B</a> <a href=\"{unsubscribe_url}\">U</a>",
        );
        c.call_to_action_url = "https://shop.lt/a?x=1&y=2".into();
        let prepared = prepare(Some(&c), "content", true).expect("valid");
        assert_eq!(prepared.links, vec!["https://shop.lt/a?x=1&y=2".to_string()]);
        let html = prepared.render(&Contact::default(), "https://t/u/1").body;
        let out = tracked(&html, &prepared.links, &|i| format!("https://t/c/tok/{i}"), "https://t/o/tok");
        assert_eq!(
            out.matches("href=\"https://t/c/tok/0\"").count(),
            2,
            "the body's link and the escaped call to action: {out}"
        );
        assert!(out.contains("href=\"https://shop.lt/\"") && out.contains("href=\"https://t/u/1\""), "{out}");
        assert!(out.ends_with("<img src=\"https://t/o/tok\" width=\"1\" height=\"1\" alt=\"\">"));
    }

    #[test]
    fn the_text_part_reads_the_html() {
        let html =
            "<h1>Sveiki, Ona</h1><p>Jūsų taškai: 120 &amp; daugiau</p><p><a href=\"https://x.lt/u\">Atsisakyti</a></p>";
        assert_eq!(text_of_html(html), "Sveiki, Ona\nJūsų taškai: 120 & daugiau\n[https://x.lt/u] Atsisakyti");
    }

    #[test]
    fn rendering_fills_the_client_and_appends_images_and_the_call_to_action() {
        let mut content = email("<p>{first_name}, {points_balance} taškų</p><a href=\"{unsubscribe_url}\">x</a>");
        content.call_to_action_url = "https://shop.lt/a?b=1&c=2".into();
        content.call_to_action_label = "Pirkti".into();
        let prepared = prepare(Some(&content), "content", true).expect("valid");
        let ona = Contact { first_name: "Ona".into(), points_balance: 120, ..Contact::default() };
        let m = prepared.render(&ona, "https://t.lt/u/abc");
        assert_eq!(m.subject, "Sveiki, Ona");
        assert!(m.body.starts_with("<p>Ona, 120 taškų</p><a href=\"https://t.lt/u/abc\">x</a>"), "{}", m.body);
        assert!(m.body.contains("<a href=\"https://shop.lt/a?b=1&amp;c=2\">Pirkti</a>"), "{}", m.body);
        assert!(m.text.contains("Ona, 120 taškų"), "{}", m.text);
        let anonymous = prepared.render(&Contact::default(), "u");
        assert_eq!(anonymous.subject, "Sveiki, drauge");
    }
}
