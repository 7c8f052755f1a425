//! `loyalty-import-export [serve|migrate] [--config FILE]`
fn main() -> std::process::ExitCode {
    loyalty_platform::service_main::run(loyalty_platform::service_main::ServiceSpec {
        name: loyalty_import_export::NAME,
        migrations: loyalty_import_export::migrations,
        register: |settings, services| Box::pin(loyalty_import_export::register(settings, services)),
    })
}
