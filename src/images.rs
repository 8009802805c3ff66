//! Runner images for the Docker sandbox, built offline from Debian packages (no image can
//! be pulled here): `mmdebstrap` makes a root filesystem from `packages`, reading this
//! machine's own apt sources, `docker import` turns it into a base image, and the
//! shared `Dockerfile` adds the unprivileged user on top.
//!
//! A recipe is `sandboxes/docker/<language>/packages`. The base image's key is the
//! SHA-256 of the package list and the apt sources; the runner image's key adds the
//! shared Dockerfile. Images are tagged `verdict-base-<language>:<key>` and
//! `verdict-runner-<language>:<key>`, so a build skips what is current, and any change
//! to a recipe makes a new image. Every program runs without a shell, with
//! arguments that come from the recipe files (package names are checked).

use anyhow::Context;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The Debian release the images are built from.
const SUITE: &str = "bookworm";

/// `verdict images build` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct ImageArgs {
    /// Folder of recipes (one sub-folder per language).
    #[arg(long, env = "VERDICT_RECIPES", default_value = "./sandboxes/docker")]
    pub recipes: PathBuf,
    /// Build only this language's image.
    #[arg(long)]
    pub only: Option<String>,
}

/// One built (or already current) image.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Image {
    pub language: String,
    pub tag: String,
    /// The image id (`sha256:…`): what results record as the digest they ran on.
    pub digest: String,
    /// False when the image was current and nothing was built.
    pub built: bool,
}

/// The apt sources mmdebstrap reads: this machine's own.
fn apt_sources() -> anyhow::Result<PathBuf> {
    [
        "/etc/apt/sources.list.d/debian.sources",
        "/etc/apt/sources.list",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|path| path.is_file())
    .context(
        "no apt sources found (/etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list)",
    )
}

/// A recipe's package names, one per line (`#` starts a comment).
fn packages(dir: &Path) -> anyhow::Result<Vec<String>> {
    let path = dir.join("packages");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let names: Vec<String> = text
        .lines()
        .map(|line| line.split('#').next().unwrap_or("").trim().to_string())
        .filter(|line| !line.is_empty())
        .collect();
    for name in &names {
        let ok = name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b));
        anyhow::ensure!(
            ok,
            "{}: {name:?} is not a Debian package name",
            path.display()
        );
    }
    anyhow::ensure!(!names.is_empty(), "{} lists no package", path.display());
    Ok(names)
}

/// Runs a command to completion; the error carries its stderr.
fn run(command: &mut Command, what: &str) -> anyhow::Result<String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot start {what}"))?;
    anyhow::ensure!(
        output.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// The image id of `tag`, if the engine has it.
fn image_id(tag: &str) -> Option<String> {
    run(
        Command::new("docker").args(["image", "inspect", "--format", "{{.Id}}", tag]),
        "docker image inspect",
    )
    .ok()
}

/// Builds (or finds current) the image of every recipe under `args.recipes`.
pub fn build(args: &ImageArgs, progress: &dyn Fn(&str)) -> anyhow::Result<Vec<Image>> {
    let sources = apt_sources()?;
    let dockerfile_path = args.recipes.join("Dockerfile");
    let dockerfile = std::fs::read_to_string(&dockerfile_path)
        .with_context(|| format!("cannot read {}", dockerfile_path.display()))?;
    let mut languages: Vec<String> = std::fs::read_dir(&args.recipes)
        .with_context(|| format!("cannot read {}", args.recipes.display()))?
        .filter_map(Result::ok)
        .filter(|entry| entry.path().join("packages").is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|language| args.only.as_ref().is_none_or(|only| only == language))
        .collect();
    languages.sort();
    anyhow::ensure!(
        !languages.is_empty(),
        "no recipe{} under {}",
        args.only
            .as_ref()
            .map(|only| format!(" named {only}"))
            .unwrap_or_default(),
        args.recipes.display()
    );
    let mut images = Vec::new();
    for language in languages {
        let recipe = args.recipes.join(&language);
        images.push(build_one(
            &recipe,
            &language,
            &dockerfile,
            &sources,
            progress,
        )?);
    }
    Ok(images)
}

fn build_one(
    dir: &Path,
    language: &str,
    dockerfile: &str,
    sources: &Path,
    progress: &dyn Fn(&str),
) -> anyhow::Result<Image> {
    let packages = packages(dir)?;
    // The root filesystem depends on the packages and the apt sources only, so a change
    // to the Dockerfile rebuilds the top layer, not the whole filesystem.
    let mut hasher = Sha256::new();
    hasher.update(SUITE);
    hasher.update(packages.join("\n"));
    hasher.update(std::fs::read(sources)?);
    let base_key = hex::encode(hasher.finalize());
    let key = &hex::encode(Sha256::digest(format!("{base_key}\n{dockerfile}")))[..16];
    let base = format!("verdict-base-{language}:{}", &base_key[..16]);
    let tag = format!("verdict-runner-{language}:{key}");
    if let Some(digest) = image_id(&tag) {
        progress(&format!("{language}: {tag} is current ({digest})"));
        return Ok(Image {
            language: language.to_string(),
            tag,
            digest,
            built: false,
        });
    }
    if image_id(&base).is_none() {
        progress(&format!(
            "{language}: building a {SUITE} root filesystem with mmdebstrap ({}); about a minute",
            packages.join(", ")
        ));
        let mut debootstrap = Command::new("mmdebstrap")
            .args(["--variant=minbase", "--quiet"])
            .arg(format!("--include={}", packages.join(",")))
            .args([SUITE, "-"])
            .stdin(std::fs::File::open(sources)?)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot start mmdebstrap (apt-get install mmdebstrap)")?;
        let rootfs = debootstrap.stdout.take().context("mmdebstrap stdout")?;
        let import = Command::new("docker")
            .args(["import", "-", &base])
            .stdin(rootfs)
            .output()
            .context("cannot start docker import")?;
        let built = debootstrap.wait_with_output()?;
        anyhow::ensure!(
            built.status.success(),
            "mmdebstrap failed: {}",
            String::from_utf8_lossy(&built.stderr).trim()
        );
        anyhow::ensure!(
            import.status.success(),
            "docker import failed: {}",
            String::from_utf8_lossy(&import.stderr).trim()
        );
        progress(&format!("{language}: imported {base}"));
    }
    progress(&format!(
        "{language}: adding the unprivileged user (docker build)"
    ));
    let context = tempfile::tempdir()?;
    std::fs::write(
        context.path().join("Dockerfile"),
        dockerfile.replace("{{base}}", &base),
    )?;
    run(
        Command::new("docker")
            .args(["build", "--quiet", "--tag", &tag])
            .arg(context.path()),
        "docker build",
    )?;
    let digest = image_id(&tag).context("the image was built but cannot be inspected")?;
    progress(&format!("{language}: built {tag} ({digest})"));
    Ok(Image {
        language: language.to_string(),
        tag,
        digest,
        built: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_lists_refuse_anything_but_package_names() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("packages"),
            "python3 # the interpreter\n\nnode-express\n",
        )
        .unwrap();
        assert_eq!(packages(dir.path()).unwrap(), ["python3", "node-express"]);
        std::fs::write(dir.path().join("packages"), "python3;rm -rf /\n").unwrap();
        assert!(
            packages(dir.path())
                .unwrap_err()
                .to_string()
                .contains("not a Debian package name")
        );
    }
}
