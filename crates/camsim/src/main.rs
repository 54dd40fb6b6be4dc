//! `camsim write DIR [PER_CATEGORY]`: writes the fixed synthetic frame set (and the full-HD
//! frames) as PNG files with a manifest in the format of the dev photo set, for
//! `scripts/bench-decode.py`.
//!
//! `camsim hard DIR [PER_SEVERITY] [MODEL]`: the harder models (phone screen, glare, small and
//! turned) at three severities (20 frames each by default), or only the one named, the same way.
//!
//! `camsim y4m OUT.y4m CP:...`: a 7-second looped video of that pass held up to a webcam, for
//! Chromium's fake camera (`--use-file-for-fake-video-capture`), to try the station without one.

use std::path::PathBuf;

use anyhow::{Context, Result};
use pass_camsim::{Category, fixed_set, full_hd_set, generate, hard_set, severity_name};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(cmd), Some(dir)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: camsim write DIR [PER_CATEGORY] | camsim y4m OUT.y4m CP:...");
    };
    if cmd == "y4m" {
        let text = args.next().context("camsim y4m OUT.y4m CP:...: the pass's text form")?;
        let code = pass_core::envelope::from_text(&text)?;
        pass_camsim::video::write_y4m(dir.as_ref(), &pass_camsim::video::presentation(&code, 5, 25, 40))?;
        println!("wrote {dir}");
        return Ok(());
    }
    anyhow::ensure!(
        cmd == "write" || cmd == "hard",
        "unknown command {cmd:?}; usage: camsim write DIR [PER_CATEGORY] | camsim hard DIR [PER_SEVERITY] [MODEL]"
    );
    let count: Option<usize> = args.next().map(|n| n.parse()).transpose().context("the number of frames")?;
    let only = args.next();
    if let Some(name) = &only {
        anyhow::ensure!(
            Category::HARD.iter().any(|c| c.name() == name),
            "no harder model is called {name:?}; they are: {}",
            Category::HARD.map(Category::name).join(", ")
        );
    }
    let dir = PathBuf::from(dir);
    let mut manifest = Vec::new();
    let sets = if cmd == "hard" {
        let specs = hard_set(count.unwrap_or(20));
        vec![(
            "synthetic-hard",
            specs.into_iter().filter(|s| only.as_deref().is_none_or(|n| n == s.category.name())).collect(),
        )]
    } else {
        vec![("synthetic-720p", fixed_set(count.unwrap_or(10))), ("synthetic-1080p", full_hd_set())]
    };
    for (prefix, specs) in sets {
        for spec in specs {
            let frame = generate(spec);
            let set = if prefix.ends_with("1080p") {
                prefix.to_string()
            } else if prefix.ends_with("hard") {
                format!("{}-{}", spec.category.name(), severity_name(spec.severity))
            } else {
                format!("{prefix}-{}", spec.category.name())
            };
            let file = format!("{set}/{}.png", frame.name);
            let path = dir.join(&file);
            std::fs::create_dir_all(path.parent().unwrap_or(&dir))?;
            frame.image.save(&path).with_context(|| format!("writing {}", path.display()))?;
            // The bench compares text; ISO-8859-1 maps every byte to one character.
            let expected: Option<String> = frame.code.as_ref().map(|c| c.iter().map(|&b| char::from(b)).collect());
            manifest.push(serde_json::json!({
                "set": set,
                "name": format!("{set}/{}", frame.name),
                "file": file,
                "kind": "synthetic",
                "negative": spec.category == Category::NoCode,
                "expected": expected,
                "severity": spec.severity,
            }));
        }
    }
    std::fs::write(dir.join("manifest.json"), serde_json::to_string_pretty(&manifest)?)?;
    println!("wrote {} frames and manifest.json to {}", manifest.len(), dir.display());
    Ok(())
}
