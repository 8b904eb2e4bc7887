---@meta ftp

---An FTP server class (RFC 959, passive mode, RFC 2428 EPSV) serving a
---folder. A subclass adds a command by defining cmd_<VERB>(arg).
---@class Ftp: FatClient
---@field root string folder served (required)
---@field users table<string, {password: string, write?: boolean, root?: string}>
---@field anonymous boolean USER anonymous / ftp with any password, read-only
---@field anonymous_write boolean let anonymous users write too
---@field greeting string the 220 text
---@field passive_host? string IPv4 address announced by PASV
---@field data_timeout number seconds from PASV/EPSV to a data connection and its command (30)
---@field idle_timeout number seconds without a command before 421 (300)
---@field max_line integer longest command line, bytes (4096)
---@field max_login_failures integer then 421 and close (3)
---@field chunk_size integer bytes read from a file per send (65536)
---@field log_transfers boolean log.info one line per transfer
---@field require_tls boolean refuse USER before AUTH TLS (FTPS; needs --tls-cert)
---@field require_session_reuse boolean PROT P data connections must resume a TLS session (else 522)
---@field Data FtpData the data connection class
---@field cwd string the current folder, as the client sees it
---@field user? string the logged-in user
local Ftp = {}

---Makes a subclass; root and each user's root are checked now, relative to
---the main script's folder.
---@param fields? table
---@return Ftp
function Ftp:extend(fields) end

---Greets (220) and arms the idle timer; a subclass's start calls Ftp.start(self).
function Ftp:start() end

---Sends one reply; a text with newlines becomes a multi-line reply.
---@param code integer
---@param text string
---@return boolean below_high_water
function Ftp:reply(code, text) end

---Reads command lines.
---@param bytes string
function Ftp:data(bytes) end

---Ends a transfer and drops the passive listener.
function Ftp:closed() end

---Names the user.
---@param arg string
function Ftp:cmd_USER(arg) end

---Checks the password; 230 or 530 (421 and close after max_login_failures).
---@param arg string
function Ftp:cmd_PASS(arg) end

---221 and close.
function Ftp:cmd_QUIT() end

---200.
function Ftp:cmd_NOOP() end

---215 UNIX Type: L8.
function Ftp:cmd_SYST() end

---AUTH TLS: 234, then the control connection becomes TLS (conn:start_tls);
---502 without a certificate (--tls-cert), 504 for another mechanism.
---@param arg string
function Ftp:cmd_AUTH(arg) end

---PBSZ 0 after AUTH TLS: 200 (503 before).
---@param arg string
function Ftp:cmd_PBSZ(arg) end

---PROT P (data connections over TLS) or C: 200; 534 for C under require_tls.
---@param arg string
function Ftp:cmd_PROT(arg) end

---202: not needed.
function Ftp:cmd_ALLO() end

---The features list.
function Ftp:cmd_FEAT() end

---The commands this class serves.
function Ftp:cmd_HELP() end

---OPTS UTF8 ON.
---@param arg string
function Ftp:cmd_OPTS(arg) end

---Binary (I) or ASCII (A) mode.
---@param arg string
function Ftp:cmd_TYPE(arg) end

---Stream mode only.
---@param arg string
function Ftp:cmd_MODE(arg) end

---File structure only.
---@param arg string
function Ftp:cmd_STRU(arg) end

---The current folder.
function Ftp:cmd_PWD() end

---The RFC 775 name of PWD.
function Ftp:cmd_XPWD() end

---Changes folder, inside the root.
---@param arg string
function Ftp:cmd_CWD(arg) end

---The RFC 775 name of CWD.
---@param arg string
function Ftp:cmd_XCWD(arg) end

---CWD ..
function Ftp:cmd_CDUP() end

---The RFC 775 name of CDUP.
function Ftp:cmd_XCUP() end

---A file's size in bytes.
---@param arg string
function Ftp:cmd_SIZE(arg) end

---A file's modification time.
---@param arg string
function Ftp:cmd_MDTM(arg) end

---Makes a folder (write access).
---@param arg string
function Ftp:cmd_MKD(arg) end

---The RFC 775 name of MKD.
---@param arg string
function Ftp:cmd_XMKD(arg) end

---Removes an empty folder (write access).
---@param arg string
function Ftp:cmd_RMD(arg) end

---The RFC 775 name of RMD.
---@param arg string
function Ftp:cmd_XRMD(arg) end

---Deletes a file (write access).
---@param arg string
function Ftp:cmd_DELE(arg) end

---Names the file to rename.
---@param arg string
function Ftp:cmd_RNFR(arg) end

---Renames it.
---@param arg string
function Ftp:cmd_RNTO(arg) end

---The offset of the next RETR.
---@param arg string
function Ftp:cmd_REST(arg) end

---Opens a passive data listener (IPv4).
function Ftp:cmd_PASV() end

---Opens a passive data listener (RFC 2428).
---@param arg string
function Ftp:cmd_EPSV(arg) end

---Aborts the transfer.
function Ftp:cmd_ABOR() end

---Lists a folder, ls -l style, over the data connection.
---@param arg string
function Ftp:cmd_LIST(arg) end

---Lists names over the data connection.
---@param arg string
function Ftp:cmd_NLST(arg) end

---Sends a file over the data connection.
---@param arg string
function Ftp:cmd_RETR(arg) end

---Receives a file (write access).
---@param arg string
function Ftp:cmd_STOR(arg) end

---Appends to a file (write access).
---@param arg string
function Ftp:cmd_APPE(arg) end

---A passive data connection; reports to its control connection.
---@class FtpData: FatClient
---@field control Ftp
local FtpData = {}

---Takes one connection per PASV/EPSV, from the control peer's host.
---@param info pocketlua.accept_info
---@return boolean?
function FtpData:accept(info) end

function FtpData:start() end

---@param bytes string
function FtpData:data(bytes) end

function FtpData:drain() end

---@param code integer?
---@param reason string
function FtpData:closed(code, reason) end

return Ftp
