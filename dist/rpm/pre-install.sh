# skylane: the system user must exist before /etc/skylane/skylane.toml is given to its group.
getent group skylane >/dev/null || groupadd -r skylane
getent passwd skylane >/dev/null || \
    useradd -r -g skylane -d /var/lib/skylane -s /sbin/nologin -c "Skylane DNS appliance" skylane
exit 0
