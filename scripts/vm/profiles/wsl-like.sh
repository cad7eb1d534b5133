# shellcheck shell=sh disable=SC2034,SC2154 # variables and $bb are the init's
# Profile wsl-like: the v2 machine with WSL2's network quirk. There, the ipip and sit tunnel
# drivers are loaded, so every new network namespace starts with tunl0 and sit0 beside lo
# (net.core.fb_tunnels_only_for_init_net is 0): a stage must not assume a new netns holds only lo.
. "$PROFILES_DIR/v2.sh"
PROFILE_MODULES="ipip sit"
