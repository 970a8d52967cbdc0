//! Embeds `migrations/`.

fn main() {
    dbmigrate_runtime::build::embed();
}
