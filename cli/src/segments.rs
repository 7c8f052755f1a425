//! `loyalty segments …`: filters and saved segments from the command line. Filters are written in
//! the text form (`loyalty segments facts` lists what a condition may name), e.g.
//! `purchases.sum(last 30 days) >= 100.00 and not tags any of ("staff")`.
use crate::connection::Connection;
use crate::format::{self, Tenant};
use crate::output::{Output, Table};
use futures::StreamExt;
use loyalty_api::filter::v1::{self as fpb, AllClients, Audience, audience::Source};
use loyalty_api::segment::v1 as pb;
use loyalty_api::segment::v1::segment_service_client::SegmentServiceClient;

type Api = SegmentServiceClient<crate::connection::Authed>;

#[derive(clap::Args)]
pub struct SegmentsArgs {
    #[command(flatten)]
    pub connection: Connection,
    #[command(subcommand)]
    pub command: SegmentsCommand,
}

#[derive(clap::Subcommand)]
pub enum SegmentsCommand {
    /// How many clients a filter selects (or a saved segment with --segment), and as of when.
    Count {
        /// The filter, e.g. 'purchases.count(last 30 days) >= 1'; empty for everyone.
        #[arg(default_value = "")]
        filter: String,
        /// Count a saved segment's members instead.
        #[arg(long)]
        segment: Option<String>,
    },
    /// The clients a filter selects, with chosen facts.
    Clients {
        /// The filter; empty for everyone.
        #[arg(default_value = "")]
        filter: String,
        /// Facts to show, comma separated (default: name, city, purchases, sum, points).
        #[arg(long, value_delimiter = ',')]
        facts: Vec<String>,
        /// Order by a shown fact, e.g. 'purchases.sum desc'.
        #[arg(long, default_value = "")]
        order_by: String,
        /// How many clients at most.
        #[arg(long, default_value_t = 20)]
        limit: i32,
    },
    /// The fact catalogue: every fact a condition may name, with its type and label.
    Facts {
        /// The labels' language: en, lt, ru, pl, ro.
        #[arg(long, default_value = "en")]
        language: String,
    },
    /// Every fact of one client, as filters see it.
    Client {
        /// The client's id.
        client_id: String,
    },
    /// Saved segments with their sizes.
    List,
    /// Save a segment: dynamic (follows the data) by default, --snapshot to freeze the filter's
    /// clients now, --manual for a list edited by hand.
    Create {
        /// The segment's name.
        name: String,
        /// The filter (not for --manual).
        #[arg(long, default_value = "")]
        filter: String,
        /// Freeze the clients the filter selects now.
        #[arg(long, conflicts_with = "manual")]
        snapshot: bool,
        /// A list edited with `segments edit`.
        #[arg(long)]
        manual: bool,
        /// Colour, #rrggbb.
        #[arg(long, default_value = "")]
        colour: String,
        /// What the segment is for.
        #[arg(long, default_value = "")]
        description: String,
        /// Publish "entered" for the first members too (triggers greet them).
        #[arg(long)]
        announce: bool,
    },
    /// Add or remove members of a manual list, by client id, card number or phone.
    Edit {
        /// The segment's id.
        segment_id: String,
        #[arg(long, value_delimiter = ',')]
        add_id: Vec<String>,
        #[arg(long, value_delimiter = ',')]
        add_card: Vec<String>,
        #[arg(long, value_delimiter = ',')]
        add_phone: Vec<String>,
        #[arg(long, value_delimiter = ',')]
        remove_id: Vec<String>,
        #[arg(long, value_delimiter = ',')]
        remove_card: Vec<String>,
        #[arg(long, value_delimiter = ',')]
        remove_phone: Vec<String>,
    },
    /// Take a snapshot segment's clients again from its filter.
    Refresh {
        /// The segment's id.
        segment_id: String,
    },
    /// Delete a segment (refused while a campaign or another segment uses it).
    Delete {
        /// The segment's id.
        segment_id: String,
    },
    /// Rebuild the read model from the feeds, with progress (needs the right ops.read_models).
    Rebuild,
}

async fn parsed(api: &mut Api, text: &str) -> anyhow::Result<Option<Audience>> {
    if text.trim().is_empty() {
        return Ok(Some(Audience { source: Some(Source::AllClients(AllClients {})) }));
    }
    let filter = api.parse_filter(pb::ParseFilterRequest { filter_text: text.into() }).await?.into_inner().filter;
    Ok(Some(Audience { source: filter.map(Source::Filter) }))
}

fn kind(s: &pb::Segment) -> String {
    match (pb::SegmentKind::try_from(s.kind), s.filter.is_some()) {
        (Ok(pb::SegmentKind::Static), true) => "snapshot".into(),
        (Ok(pb::SegmentKind::Static), false) => "manual".into(),
        (Ok(k), _) => format::word(k.as_str_name(), "SEGMENT_KIND_"),
        _ => "?".into(),
    }
}

async fn table(segments: &[pb::Segment], api: &mut Api, tenant: &Tenant) -> anyhow::Result<Table> {
    let mut t = Table::new(&["id", "name", "kind", "size", "updated", "filter"]);
    for s in segments {
        let written = match &s.filter {
            Some(f) => {
                api.format_filter(pb::FormatFilterRequest { filter: Some(f.clone()) }).await?.into_inner().filter_text
            }
            None => String::new(),
        };
        t.row(vec![
            s.id.clone(),
            s.name.clone(),
            kind(s),
            s.size.to_string(),
            tenant.time(s.updated_at.as_ref()),
            written,
        ]);
    }
    Ok(t)
}

async fn show(out: &Output, api: &mut Api, tenant: &Tenant, s: pb::Segment) -> anyhow::Result<()> {
    let rendered = table(std::slice::from_ref(&s), api, tenant).await?.render();
    out.one(&s, || rendered.trim_end().to_string());
    Ok(())
}

pub async fn run(args: SegmentsArgs, out: &Output) -> anyhow::Result<()> {
    let mut api = SegmentServiceClient::new(args.connection.authed().await?);
    let tenant = Tenant::of(&args.connection).await;
    match args.command {
        SegmentsCommand::Count { filter, segment } => {
            let audience = match segment {
                Some(id) => Some(Audience { source: Some(Source::SegmentId(id)) }),
                None => parsed(&mut api, &filter).await?,
            };
            let r = api.count_clients(pb::CountClientsRequest { audience }).await?.into_inner();
            out.one(&r, || format!("{} clients (facts as of {})", r.count, tenant.time(r.facts_as_of.as_ref())));
        }
        SegmentsCommand::Clients { filter, facts, order_by, limit } => {
            let audience = parsed(&mut api, &filter).await?;
            let page = Some(loyalty_api::common::v1::PageRequest { page_size: limit, ..Default::default() });
            let request = pb::ListMatchingClientsRequest {
                audience,
                facts: facts.clone(),
                order_by,
                page,
                within_stores: vec![],
                period: None,
                as_rows: false,
            };
            let r = api.list_matching_clients(request).await?.into_inner();
            let shown: Vec<String> = match r.clients.first() {
                Some(_) if !facts.is_empty() => facts,
                Some(c) => c.facts.keys().cloned().collect(),
                None => facts,
            };
            let total = r.page.map(|p| p.total_size).unwrap_or_default();
            let mut headers = vec!["client"];
            headers.extend(shown.iter().map(String::as_str));
            let mut t = Table::new(&headers);
            for c in &r.clients {
                let mut row = vec![c.client_id.clone()];
                row.extend(shown.iter().map(|f| c.facts.get(f).cloned().unwrap_or_else(|| "-".into())));
                t.row(row);
            }
            out.list(&r.clients, || t, &format!("{} of {total} clients", r.clients.len()));
        }
        SegmentsCommand::Facts { language } => {
            let r = api.list_facts(pb::ListFactsRequest { language }).await?.into_inner();
            let entity =
                |e: i32| fpb::Entity::try_from(e).map(|e| format::word(e.as_str_name(), "ENTITY_")).unwrap_or_default();
            let kind = |k: i32| {
                fpb::FactType::try_from(k).map(|k| format::word(k.as_str_name(), "FACT_TYPE_")).unwrap_or_default()
            };
            out.list(
                &r.facts,
                || {
                    let mut t = Table::new(&["fact", "of", "type", "window", "label"]);
                    for f in &r.facts {
                        let window = if f.takes_window { "yes" } else { "" };
                        t.row(vec![f.name.clone(), entity(f.entity), kind(f.r#type), window.into(), f.label.clone()]);
                    }
                    t
                },
                &format!("{} facts", r.facts.len()),
            );
        }
        SegmentsCommand::Client { client_id } => {
            let r = api.get_client_facts(pb::GetClientFactsRequest { client_id }).await?.into_inner();
            out.one(&r, || {
                let mut t = Table::new(&["fact", "value"]);
                let mut facts: Vec<_> = r.facts.iter().collect();
                facts.sort();
                for (name, value) in facts {
                    t.row(vec![name.clone(), value.clone()]);
                }
                t.render().trim_end().to_string()
            });
        }
        SegmentsCommand::List => {
            let r = api.list_segments(pb::ListSegmentsRequest::default()).await?.into_inner();
            let t = table(&r.segments, &mut api, &tenant).await?;
            out.list(&r.segments, || t, &format!("{} segments", r.segments.len()));
        }
        SegmentsCommand::Create { name, filter, snapshot, manual, colour, description, announce } => {
            let conditions = match (manual, filter.trim()) {
                (true, _) | (false, "") => None,
                (false, text) => {
                    api.parse_filter(pb::ParseFilterRequest { filter_text: text.into() }).await?.into_inner().filter
                }
            };
            let kind = if snapshot || manual { pb::SegmentKind::Static } else { pb::SegmentKind::Dynamic };
            let segment =
                pb::Segment { name, colour, description, kind: kind as i32, filter: conditions, ..Default::default() };
            let request = pb::CreateSegmentRequest { segment: Some(segment), announce_initial_members: announce };
            let s = api.create_segment(request).await?.into_inner();
            show(out, &mut api, &tenant, s).await?;
        }
        SegmentsCommand::Edit { segment_id, add_id, add_card, add_phone, remove_id, remove_card, remove_phone } => {
            let request = pb::ModifySegmentMembersRequest {
                segment_id,
                add_client_ids: add_id,
                add_card_numbers: add_card,
                add_phones: add_phone,
                remove_client_ids: remove_id,
                remove_card_numbers: remove_card,
                remove_phones: remove_phone,
                etag: String::new(),
            };
            let s = api.modify_segment_members(request).await?.into_inner();
            show(out, &mut api, &tenant, s).await?;
        }
        SegmentsCommand::Refresh { segment_id } => {
            let s = api.refresh_segment(pb::RefreshSegmentRequest { segment_id }).await?.into_inner();
            show(out, &mut api, &tenant, s).await?;
        }
        SegmentsCommand::Delete { segment_id } => {
            api.delete_segment(pb::DeleteSegmentRequest { segment_id: segment_id.clone() }).await?;
            out.value(serde_json::json!({ "deleted": segment_id }), &format!("deleted segment {segment_id}"));
        }
        SegmentsCommand::Rebuild => {
            let mut progress = api.rebuild_read_model(pb::RebuildReadModelRequest {}).await?.into_inner();
            while let Some(p) = progress.next().await {
                let p = p?;
                let stage = pb::rebuild_progress::Stage::try_from(p.stage)
                    .map(|s| format::word(s.as_str_name(), "STAGE_"))
                    .unwrap_or_default();
                let what = if p.feed.is_empty() { String::new() } else { format!(" the {} feed", p.feed) };
                let line = match pb::rebuild_progress::Stage::try_from(p.stage) {
                    Ok(pb::rebuild_progress::Stage::Done) => format!("done: the read model holds {} facts", p.facts),
                    _ => format!("{stage}{what}: {}/{}", p.done, p.total),
                };
                out.one(&p, || line);
            }
        }
    }
    Ok(())
}
