# dynomite-local/memcached: memcached from Debian, on the local Debian base.
ARG BASE
FROM ${BASE}
USER memcache
EXPOSE 11211
# No nc in the image: bash's /dev/tcp sends "version" and expects "VERSION".
HEALTHCHECK --interval=2s --timeout=2s --retries=15 CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/11211 && printf 'version\\r\\n' >&3 && read -t 2 -r l <&3 && [[ $l == VERSION* ]]"]
CMD ["memcached", "-p", "11211", "-U", "0", "-m", "64"]
