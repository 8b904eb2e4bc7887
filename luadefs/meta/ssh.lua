---@meta ssh

---An SSH server class on golang.org/x/crypto/ssh: the instance decides who
---logs in; each session channel (shell, exec, sftp) is an instance of the
---session class. Options are class fields.
---@class Ssh: FatClient
---@field host_keys? string[] private host key files; nil: the generated ed25519 key
---@field users table<string, {password?: string, authorized_keys?: string, root?: string, write?: boolean}> the shape of ftp.lua's users
---@field root? string SFTP folder for users without their own root (nil: no SFTP for them)
---@field sftp boolean serve the sftp subsystem (true)
---@field max_auth_tries integer failed attempts before disconnect (6)
---@field auth_failure_delay number seconds before a failed attempt is answered (0.5)
---@field max_sessions integer open channels per connection (10)
---@field refuse_legacy_scp boolean refuse `scp -O` (true)
---@field log_logins boolean log.info each login
---@field Session SshSession the session base class
---@field session SshSession the class a new session channel gets
local Ssh = {}

---Upgrades the connection to SSH at once (behind mux.lua, after data).
function Ssh:start() end

---The bytes a protocol sniffer read before the upgrade.
---@param bytes string
function Ssh:data(bytes) end

---true lets the client in; the default checks users[user].password.
---@param user string
---@param password string
---@return boolean
function Ssh:auth_password(user, password) end

---true lets the client in; the default checks users[user].authorized_keys.
---@param user string
---@param key SshKey
---@return boolean
function Ssh:auth_publickey(user, key) end

---Where the user's SFTP sessions go: folder and whether it is writable.
---@param user string
---@return string? folder
---@return boolean writable
function Ssh:sftp_root(user) end

---Engine callback: one authentication attempt.
---@param user string
---@param credential table
---@return boolean
function Ssh:ssh_auth(user, credential) end

---Engine callback: the client is logged in.
---@param user string
---@param method string
function Ssh:ssh_authenticated(user, method) end

---Engine callback: a session channel opened; returns its instance.
---@param channel SshChannel
---@return SshSession?
function Ssh:ssh_open(channel) end

---Engine callback: a channel request (pty, shell, exec, subsystem, window-change).
---@param s SshSession
---@param req table
---@return boolean
function Ssh:ssh_request(s, req) end

---Engine callback: input on a session.
---@param s SshSession
---@param bytes string
function Ssh:ssh_data(s, bytes) end

---Engine callback: the client sent EOF on a session.
---@param s SshSession
function Ssh:ssh_eof(s) end

---Engine callback: a session's output queue drained.
---@param s SshSession
function Ssh:ssh_drain(s) end

---Engine callback: a session closed.
---@param s SshSession
function Ssh:ssh_closed(s) end

---The open session instances.
---@return SshSession[]
function Ssh:sessions() end

---Moves open sessions to the new session class when it defines reloaded.
---@param old_class table
function Ssh:reloaded(old_class) end

---One session channel. Events, all optional: start(), pty(term, cols,
---rows), shell(), exec(command), subsystem(name), window_change(cols, rows),
---data(bytes), eof(), drain(), closed().
---@class SshSession: FatClient
---@field channel SshChannel
---@field server Ssh the connection instance
---@field user string
---@field term? string after a pty request
---@field cols? integer
---@field rows? integer
local SshSession = {}

---Sends bytes to the client's stdout; false above the high-water mark (drain follows).
---@param bytes string
---@return boolean
function SshSession:send(bytes) end

---Sends bytes to the client's stderr.
---@param bytes string
---@return boolean
function SshSession:send_stderr(bytes) end

---Bytes queued for the client.
---@return integer
function SshSession:buffered() end

---Sends the exit status after the queued output, then closes.
---@param status? integer
function SshSession:exit(status) end

---Closes the channel.
function SshSession:close() end

---Whether the session is still open.
---@return boolean
function SshSession:is_open() end

---Calls fn(self) after seconds, unless the session has closed.
---@param seconds number
---@param fn fun(self: SshSession)
---@return Timer
function SshSession:after(seconds, fn) end

---A session channel as the engine hands it to ssh.lua (a userdata).
---@class SshChannel
---@field send fun(self: SshChannel, bytes: string): boolean
---@field send_stderr fun(self: SshChannel, bytes: string): boolean
---@field buffered fun(self: SshChannel): integer
---@field exit fun(self: SshChannel, status: integer)
---@field close fun(self: SshChannel)
---@field sftp fun(self: SshChannel, folder: string, writable: boolean): boolean?, string? serves SFTP confined to folder

---A client's public key, as auth_publickey gets it (a userdata).
---@class SshKey
---@field type string "ssh-ed25519", "ssh-rsa", ...
---@field fingerprint string "SHA256:...", as ssh-keygen -l prints it
---@field authorized_by fun(self: SshKey, file: string): boolean, string? whether an authorized_keys file lists the key

return Ssh
