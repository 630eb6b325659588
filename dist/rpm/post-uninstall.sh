# skylane: /var/lib/skylane and the user are kept (remove them by hand if wanted).
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
exit 0
