//! `loyalty-client [serve|migrate] [--config FILE]`
fn main() -> std::process::ExitCode {
    loyalty_platform::service_main::run(loyalty_platform::service_main::ServiceSpec {
        name: loyalty_client::NAME,
        migrations: loyalty_client::migrations,
        register: |settings, services| Box::pin(loyalty_client::register(settings, services)),
    })
}
