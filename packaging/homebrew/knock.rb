# Homebrew formula for the a-knock tap (brew install a-knock/tap/knock).
# packaging/build.sh all fills in @VERSION@ and the hashes of the macOS
# tarballs; .goreleaser.yaml publishes the same tarballs.
class Knock < Formula
  desc "Port-knocking client: knockd sequences, fwknop SPA, profiles and ssh"
  homepage "https://github.com/a-knock/knock"
  version "@VERSION@"
  license "MIT"

  on_macos do
    on_intel do
      url "https://github.com/a-knock/knock/releases/download/v@VERSION@/knock_@VERSION@_darwin_amd64.tar.gz"
      sha256 "@SHA256_DARWIN_AMD64@"
    end
    on_arm do
      url "https://github.com/a-knock/knock/releases/download/v@VERSION@/knock_@VERSION@_darwin_arm64.tar.gz"
      sha256 "@SHA256_DARWIN_ARM64@"
    end
  end

  depends_on :macos

  def install
    bin.install "knock"
    bash_completion.install "completions/knock.bash" => "knock"
    zsh_completion.install "completions/_knock"
    fish_completion.install "completions/knock.fish"
    man1.install "knock.1"
  end

  test do
    assert_match version.to_s, shell_output("#{bin}/knock --version")
    assert_match "would knock", shell_output("#{bin}/knock --dry-run 127.0.0.1 7000 8000 9000")
    assert_match "__start_knock", shell_output("#{bin}/knock completion bash")
  end
end
