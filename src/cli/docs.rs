//! Shell completions and the man page, generated from the clap definition
//! (`clap_complete`, `clap_mangen`) so they never drift from the flags.
//! README "Install" shows where to put them.

use std::io::{self, Write};

use clap::CommandFactory;

use super::args::Args;

/// The completion script of `shell` for `tlsaudit`.
pub fn write_completions(shell: clap_complete::Shell, out: &mut dyn Write) {
    clap_complete::generate(shell, &mut Args::command(), "tlsaudit", out);
}

/// `tlsaudit.1`, then a section per subcommand (`tlsaudit check`, …), so
/// one file documents every flag.
pub fn write_man_page(out: &mut dyn Write) -> io::Result<()> {
    let cmd = Args::command();
    clap_mangen::Man::new(cmd.clone()).render(out)?;
    for sub in cmd.get_subcommands() {
        if matches!(sub.get_name(), "completions" | "man" | "help") {
            continue;
        }
        let man = clap_mangen::Man::new(sub.clone());
        writeln!(out, ".SH \"TLSAUDIT {}\"", sub.get_name().to_uppercase())?;
        man.render_description_section(out)?;
        man.render_options_section(out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bash_completion_knows_subcommands_and_live_flags() {
        let mut out = Vec::new();
        write_completions(clap_complete::Shell::Bash, &mut out);
        let text = String::from_utf8(out).expect("utf-8");
        assert!(text.contains("_tlsaudit()"), "{text}");
        for word in ["check", "live", "profile", "--metrics", "--format", "ecs"] {
            assert!(text.contains(word), "{word} missing");
        }
    }

    #[test]
    fn man_page_documents_every_subcommand_and_its_options() {
        let mut out = Vec::new();
        write_man_page(&mut out).expect("render");
        let text = String::from_utf8(out).expect("utf-8");
        assert!(text.starts_with(".ie"), "{}", &text[..80.min(text.len())]);
        assert!(text.contains(".TH tlsaudit 1"), "{text}");
        assert!(text.contains(".SH \"TLSAUDIT LIVE\""), "{text}");
        assert!(text.contains("\\-\\-metrics"), "{text}");
        assert!(text.contains("\\-\\-server\\-cn"), "{text}");
    }
}
