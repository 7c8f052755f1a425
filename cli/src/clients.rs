//! `loyalty clients …`: the client service from the command line, for CRM staff and operators.
use crate::connection::{Connection, key};
use crate::format::{self, Tenant};
use crate::output::{Output, Table};
use loyalty_api::client::v1 as pb;
use loyalty_api::client::v1::client_service_client::ClientServiceClient;
use loyalty_api::common::v1::RequestContext;

#[derive(clap::Args)]
pub struct ClientsArgs {
    #[command(flatten)]
    pub connection: Connection,
    #[command(subcommand)]
    pub command: ClientsCommand,
}

#[derive(clap::Args)]
pub struct Write {
    /// Makes the write safe to retry: the same key with the same values is applied once (a new key
    /// is made when none is given).
    #[arg(long)]
    pub idempotency_key: Option<String>,
}

impl Write {
    pub fn context(&self) -> Option<RequestContext> {
        Some(RequestContext { idempotency_key: key(&self.idempotency_key), ..Default::default() })
    }
}

#[derive(clap::Subcommand)]
pub enum ClientsCommand {
    /// Quick search: names, emails, phones, card numbers, ids; terms separated by ';' combine with OR.
    Search {
        /// What to look for, e.g. "sarunas" or "8 (600) 00012; @example.pl".
        query: String,
        /// How many clients to show at most.
        #[arg(long, default_value_t = 20)]
        limit: i32,
        /// Sort, e.g. "last_name" or "registered_at desc".
        #[arg(long, default_value = "")]
        order_by: String,
    },
    /// Show one client: profile, status, consents, block.
    Get {
        /// The client's id.
        id: String,
    },
    /// Register a client.
    Create {
        /// First name.
        #[arg(long)]
        first_name: String,
        /// Last name.
        #[arg(long)]
        last_name: String,
        /// Phone in any punctuation (+370 612 34567).
        #[arg(long)]
        phone: String,
        /// Email address.
        #[arg(long, default_value = "")]
        email: String,
        /// The store the client registers in.
        #[arg(long, default_value = "")]
        store: String,
        #[command(flatten)]
        write: Write,
    },
    /// Block a client: no earning, spending or mailings, until unblocked.
    Block {
        /// The client's id.
        id: String,
        /// Why (required; kept in the history).
        #[arg(long)]
        comment: String,
        #[command(flatten)]
        write: Write,
    },
    /// Unblock a client; the status before the block comes back.
    Unblock {
        /// The client's id.
        id: String,
        /// Why (required; kept in the history).
        #[arg(long)]
        comment: String,
        #[command(flatten)]
        write: Write,
    },
    /// A client's history, newest first: what changed, when, by whom.
    History {
        /// The client's id.
        id: String,
        /// How many records to show at most.
        #[arg(long, default_value_t = 50)]
        limit: i32,
    },
    /// Merge duplicates into a survivor: cards, points, tags and consents move to it.
    Merge {
        /// The client that remains.
        survivor: String,
        /// The duplicates that go.
        #[arg(required = true)]
        duplicates: Vec<String>,
        #[command(flatten)]
        write: Write,
    },
    /// Erase a person's data (GDPR); financial records stay, anonymised.
    Erase {
        /// The client's id.
        id: String,
        /// The request's reference (required).
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        write: Write,
    },
    /// Everything held about a person, as JSON (GDPR export).
    Export {
        /// The client's id.
        id: String,
    },
}

/// The fields a search line shows: what a search asks the service for.
const LINE_FIELDS: [&str; 5] = ["full_name", "phone", "email", "registration_store_id", "status"];

fn table(clients: &[pb::Client]) -> Table {
    let mut t = Table::new(&["id", "name", "phone", "email", "store", "status"]);
    for c in clients {
        let status = format::client_status(c.status);
        t.row(vec![
            c.id.clone(),
            c.full_name.clone(),
            c.phone.clone(),
            c.email.clone(),
            c.registration_store_id.clone(),
            status,
        ]);
    }
    t
}

fn show(c: &pb::Client, tenant: &Tenant) -> String {
    let mut out = format!("{}  {}\n", c.full_name, c.id);
    let mut line = |label: &str, value: &str| {
        if !value.is_empty() {
            out.push_str(&format!("  {label:<12} {value}\n"));
        }
    };
    line("status", &format::client_status(c.status));
    line("phone", &c.phone);
    line("email", &c.email);
    line("city", &c.city);
    line("store", &c.registration_store_id);
    line("registered", &tenant.time(c.registered_at.as_ref()));
    line("updated", &tenant.time(c.updated_at.as_ref()));
    for consent in &c.consents {
        let value = format!(
            "{} (since {}, {})",
            format::consent(consent.status),
            tenant.time(consent.changed_at.as_ref()),
            consent.source
        );
        line(&format::channel(consent.channel), &value);
    }
    if let Some(b) = &c.block {
        let by = b
            .blocked_by
            .as_ref()
            .map(|a| if a.name.is_empty() { a.id.clone() } else { a.name.clone() })
            .unwrap_or_default();
        line("blocked", &format!("{} ({}, by {by})", b.comment, tenant.time(b.blocked_at.as_ref())));
    }
    out.trim_end().to_string()
}

pub async fn run(args: ClientsArgs, out: &Output) -> anyhow::Result<()> {
    let mut api = ClientServiceClient::new(args.connection.authed().await?);
    let tenant = if out.json() {
        Tenant { zone: loyalty_platform::tz::TimeZone::UTC, currency: loyalty_platform::Currency::EUR }
    } else {
        Tenant::of(&args.connection).await
    };
    match args.command {
        ClientsCommand::Search { query, limit, order_by } => {
            let page = Some(loyalty_api::common::v1::PageRequest { page_size: limit, page_token: String::new() });
            let read_mask = Some(prost_types::FieldMask { paths: LINE_FIELDS.map(String::from).to_vec() });
            let request = pb::ListClientsRequest { query, order_by, page, read_mask, ..Default::default() };
            let r = api.list_clients(request).await?.into_inner();
            let total = r.page.map(|p| p.total_size).unwrap_or(0);
            out.list(&r.clients, || table(&r.clients), &format!("{} shown of {total}", r.clients.len()));
        }
        ClientsCommand::Get { id } => {
            let c = api.get_client(pb::GetClientRequest { client_id: id }).await?.into_inner();
            out.one(&c, || show(&c, &tenant));
        }
        ClientsCommand::Create { first_name, last_name, phone, email, store, write } => {
            let client =
                pb::Client { first_name, last_name, phone, email, registration_store_id: store, ..Default::default() };
            let request =
                pb::CreateClientRequest { client: Some(client), context: write.context(), ..Default::default() };
            let c = api.create_client(request).await?.into_inner();
            out.one(&c, || show(&c, &tenant));
        }
        ClientsCommand::Block { id, comment, write } => {
            let request = pb::BlockClientRequest { client_id: id, comment, context: write.context() };
            let c = api.block_client(request).await?.into_inner();
            out.one(&c, || show(&c, &tenant));
        }
        ClientsCommand::Unblock { id, comment, write } => {
            let request = pb::UnblockClientRequest { client_id: id, comment, context: write.context() };
            let c = api.unblock_client(request).await?.into_inner();
            out.one(&c, || show(&c, &tenant));
        }
        ClientsCommand::History { id, limit } => {
            let page = Some(loyalty_api::common::v1::PageRequest { page_size: limit, page_token: String::new() });
            let r = api
                .list_client_history(pb::ListClientHistoryRequest { client_id: id, page, ..Default::default() })
                .await?
                .into_inner();
            out.records(&r.records, || history_text(&r.records, &tenant));
        }
        ClientsCommand::Merge { survivor, duplicates, write } => {
            let req = pb::MergeClientsRequest {
                survivor_client_id: survivor,
                merged_client_ids: duplicates,
                context: write.context(),
            };
            let r = api.merge_clients(req).await?.into_inner();
            out.one(&r, || r.survivor.as_ref().map(|c| show(c, &tenant)).unwrap_or_default());
        }
        ClientsCommand::Erase { id, reason, write } => {
            let r = api
                .erase_client(pb::EraseClientRequest { client_id: id.clone(), reason, context: write.context() })
                .await?
                .into_inner();
            out.one(&r, || format!("erased {id}: personal data removed, financial records kept"));
        }
        ClientsCommand::Export { id } => {
            let document =
                api.export_client_data(pb::ExportClientDataRequest { client_id: id }).await?.into_inner().json;
            // The export is JSON already; scripts get it on one line.
            let value: serde_json::Value = serde_json::from_str(&document)?;
            out.value(value, &document);
        }
    }
    Ok(())
}

/// History records as blocks, newest first: when, what and who on one line, then each change.
fn history_text(records: &[pb::HistoryRecord], tenant: &format::Tenant) -> String {
    let mut text = String::new();
    for h in records {
        let who = h.actor.as_ref().map(|a| if a.name.is_empty() { a.id.as_str() } else { a.name.as_str() });
        text.push_str(&format!("{}  {}", tenant.time(h.at.as_ref()), h.kind));
        if let Some(who) = who.filter(|w| !w.is_empty()) {
            text.push_str(&format!(" by {who}"));
        }
        if !h.comment.is_empty() {
            text.push_str(&format!(": {}", h.comment));
        }
        text.push('\n');
        for change in crate::history::changes(&h.before_json, &h.after_json) {
            text.push_str(&format!("    {change}\n"));
        }
    }
    if records.is_empty() {
        text.push_str("no history\n");
    }
    text
}
