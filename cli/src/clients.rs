//! `loyalty clients …`: the client service from the command line, for CRM staff and operators.
use anyhow::Context;
use loyalty_api::client::v1 as pb;
use loyalty_api::client::v1::client_service_client::ClientServiceClient;
use loyalty_platform::auth::BearerToken;
use std::path::PathBuf;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

#[derive(clap::Args)]
pub struct Connection {
    /// gRPC endpoint of the suite.
    #[arg(long, env = "LOYALTY_ENDPOINT", default_value = "http://127.0.0.1:50051", global = true)]
    pub endpoint: String,
    /// Bearer token; defaults to the file given by --token-file.
    #[arg(long, env = "LOYALTY_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// File holding the token (the one `loyalty dev up` writes).
    #[arg(long, default_value = ".data/dev-token", global = true)]
    pub token_file: PathBuf,
}

impl Connection {
    pub fn bearer(&self) -> anyhow::Result<BearerToken> {
        let token = match &self.token {
            Some(t) => t.clone(),
            None => std::fs::read_to_string(&self.token_file)
                .with_context(|| format!("no --token and no token file {}", self.token_file.display()))?,
        };
        BearerToken::new(token.trim())
    }

    pub async fn channel(&self) -> anyhow::Result<Channel> {
        Channel::from_shared(self.endpoint.clone())?
            .connect()
            .await
            .with_context(|| format!("connecting to {}", self.endpoint))
    }

    async fn clients(&self) -> anyhow::Result<ClientServiceClient<InterceptedService<Channel, BearerToken>>> {
        Ok(ClientServiceClient::with_interceptor(self.channel().await?, self.bearer()?))
    }
}

#[derive(clap::Args)]
pub struct ClientsArgs {
    #[command(flatten)]
    pub connection: Connection,
    #[command(subcommand)]
    pub command: ClientsCommand,
}

#[derive(clap::Subcommand)]
pub enum ClientsCommand {
    /// Quick search: names, emails, phones, ids; several terms separated by ';' combine with OR.
    Search {
        query: String,
        #[arg(long, default_value_t = 20)]
        limit: i32,
        /// Sort, e.g. "last_name" or "registered_at desc".
        #[arg(long, default_value = "")]
        order_by: String,
    },
    /// Show one client.
    Get { id: String },
    /// Register a client.
    Create {
        #[arg(long)]
        first_name: String,
        #[arg(long)]
        last_name: String,
        #[arg(long)]
        phone: String,
        #[arg(long, default_value = "")]
        email: String,
        #[arg(long, default_value = "")]
        store: String,
    },
    /// Block a client (no earning, spending or mailings).
    Block {
        id: String,
        #[arg(long)]
        comment: String,
    },
    /// Unblock a client.
    Unblock {
        id: String,
        #[arg(long)]
        comment: String,
    },
    /// A client's history, newest first.
    History { id: String },
    /// Merge duplicates into a survivor.
    Merge {
        survivor: String,
        #[arg(required = true)]
        duplicates: Vec<String>,
    },
    /// Erase a person's data (GDPR).
    Erase {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// Everything held about a person, as JSON.
    Export { id: String },
}

/// The fields [`line`] shows: what a search asks the service for.
const LINE_FIELDS: [&str; 4] = ["full_name", "phone", "email", "registration_store_id"];

fn line(c: &pb::Client) -> String {
    format!("{}  {:<32} {:<16} {:<32} {}", c.id, c.full_name, c.phone, c.email, c.registration_store_id)
}

fn show(c: &pb::Client) {
    println!("{}", line(c));
    let status = loyalty_api::events::v1::ClientStatus::try_from(c.status).map(|s| s.as_str_name()).unwrap_or("?");
    println!("  status {status}  identified {}  tags {}  etag {}", c.identified, c.tag_ids.len(), c.etag);
    for consent in &c.consents {
        let channel =
            loyalty_api::common::v1::ContactChannel::try_from(consent.channel).map(|x| x.as_str_name()).unwrap_or("?");
        let state =
            loyalty_api::common::v1::ConsentStatus::try_from(consent.status).map(|x| x.as_str_name()).unwrap_or("?");
        println!("  consent {channel} {state} ({})", consent.source);
    }
    if let Some(b) = &c.block {
        println!("  blocked: {}", b.comment);
    }
}

pub async fn run(args: ClientsArgs) -> anyhow::Result<()> {
    let mut api = args.connection.clients().await?;
    match args.command {
        ClientsCommand::Search { query, limit, order_by } => {
            let page = Some(loyalty_api::common::v1::PageRequest { page_size: limit, page_token: String::new() });
            let read_mask = Some(prost_types::FieldMask { paths: LINE_FIELDS.map(String::from).to_vec() });
            let request = pb::ListClientsRequest { query, order_by, page, read_mask, ..Default::default() };
            let r = api.list_clients(request).await?.into_inner();
            for c in &r.clients {
                println!("{}", line(c));
            }
            println!("{} shown of {}", r.clients.len(), r.page.map(|p| p.total_size).unwrap_or(0));
        }
        ClientsCommand::Get { id } => show(&api.get_client(pb::GetClientRequest { client_id: id }).await?.into_inner()),
        ClientsCommand::Create { first_name, last_name, phone, email, store } => {
            let client =
                pb::Client { first_name, last_name, phone, email, registration_store_id: store, ..Default::default() };
            show(
                &api.create_client(pb::CreateClientRequest { client: Some(client), ..Default::default() })
                    .await?
                    .into_inner(),
            );
        }
        ClientsCommand::Block { id, comment } => show(
            &api.block_client(pb::BlockClientRequest { client_id: id, comment, ..Default::default() })
                .await?
                .into_inner(),
        ),
        ClientsCommand::Unblock { id, comment } => show(
            &api.unblock_client(pb::UnblockClientRequest { client_id: id, comment, ..Default::default() })
                .await?
                .into_inner(),
        ),
        ClientsCommand::History { id } => {
            let r =
                api.list_client_history(pb::ListClientHistoryRequest { client_id: id, ..Default::default() }).await?;
            for h in r.into_inner().records {
                let at = h.at.map(|t| t.seconds).unwrap_or(0);
                let who = h.actor.map(|a| a.id).unwrap_or_default();
                println!("{at}  {:<10} {who:<12} {} -> {}  {}", h.kind, h.before_json, h.after_json, h.comment);
            }
        }
        ClientsCommand::Merge { survivor, duplicates } => {
            let req = pb::MergeClientsRequest {
                survivor_client_id: survivor,
                merged_client_ids: duplicates,
                ..Default::default()
            };
            if let Some(c) = api.merge_clients(req).await?.into_inner().survivor {
                show(&c);
            }
        }
        ClientsCommand::Erase { id, reason } => {
            api.erase_client(pb::EraseClientRequest { client_id: id.clone(), reason, ..Default::default() }).await?;
            println!("erased {id}");
        }
        ClientsCommand::Export { id } => {
            println!(
                "{}",
                api.export_client_data(pb::ExportClientDataRequest { client_id: id }).await?.into_inner().json
            )
        }
    }
    Ok(())
}
