# skylane: state directory, then let systemd know (an upgrade restarts a running appliance).
if command -v systemd-tmpfiles >/dev/null 2>&1; then
    systemd-tmpfiles --create skylane.conf || :
fi
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
    if [ "$1" -gt 1 ]; then
        systemctl try-restart skylane.service skylane-scan.service >/dev/null 2>&1 || :
    fi
fi
exit 0
