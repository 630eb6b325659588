# skylane: stop and disable the services on removal (not on upgrade: $1 is then 1).
if [ "$1" -eq 0 ] && [ -d /run/systemd/system ]; then
    systemctl --no-reload disable --now skylane.service skylane-scan.service >/dev/null 2>&1 || :
fi
exit 0
