use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "securityprofile-operator", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the CustomResourceDefinition YAML.
    Crd,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Crd => print!("{}", securityprofile_operator::api::crd_yaml()?),
    }
    Ok(())
}
