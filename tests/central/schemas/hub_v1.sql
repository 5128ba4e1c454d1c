-- hub schema version 1, made by the code of commit 4b37f25 (central.db.create_schema on a new SQLite file)
CREATE TABLE alert (
	id INTEGER NOT NULL, 
	kind VARCHAR NOT NULL, 
	node_id VARCHAR, 
	message VARCHAR NOT NULL, 
	created_at VARCHAR NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE application (
	id VARCHAR NOT NULL, 
	node_id VARCHAR NOT NULL, 
	receipt_no VARCHAR NOT NULL, 
	item_code VARCHAR NOT NULL, 
	item_name VARCHAR NOT NULL, 
	department VARCHAR NOT NULL, 
	applicant_name VARCHAR NOT NULL, 
	applicant_id_number VARCHAR NOT NULL, 
	applicant_phone VARCHAR NOT NULL, 
	proxy_agent VARCHAR NOT NULL, 
	status VARCHAR NOT NULL, 
	submitted_at VARCHAR NOT NULL, 
	received_at VARCHAR NOT NULL, 
	decided_at VARCHAR, 
	decided_by VARCHAR, 
	decision_reason VARCHAR NOT NULL, 
	delivered_at VARCHAR, 
	PRIMARY KEY (id), 
	FOREIGN KEY(node_id) REFERENCES node (id)
);
CREATE TABLE blob (
	sha256 VARCHAR NOT NULL, 
	node_id VARCHAR NOT NULL, 
	size INTEGER NOT NULL, 
	received_bytes INTEGER NOT NULL, 
	complete_at VARCHAR, 
	PRIMARY KEY (sha256)
);
CREATE TABLE blobchunk (
	sha256 VARCHAR NOT NULL, 
	"offset" INTEGER NOT NULL, 
	length INTEGER NOT NULL, 
	PRIMARY KEY (sha256, "offset")
);
CREATE TABLE catalogitem (
	code VARCHAR NOT NULL, 
	name VARCHAR NOT NULL, 
	department VARCHAR NOT NULL, 
	time_limit_days INTEGER NOT NULL, 
	fee_fen INTEGER NOT NULL, 
	detail_json VARCHAR NOT NULL, 
	PRIMARY KEY (code), 
	FOREIGN KEY(department) REFERENCES department (code)
);
CREATE TABLE department (
	code VARCHAR NOT NULL, 
	name VARCHAR NOT NULL, 
	PRIMARY KEY (code)
);
CREATE TABLE downlinkbatch (
	node_id VARCHAR NOT NULL, 
	seq INTEGER NOT NULL, 
	hash VARCHAR NOT NULL, 
	raw BLOB NOT NULL, 
	created_at VARCHAR NOT NULL, 
	published_at VARCHAR, 
	PRIMARY KEY (node_id, seq)
);
CREATE TABLE downlinkevent (
	id VARCHAR NOT NULL, 
	node_id VARCHAR NOT NULL, 
	kind VARCHAR NOT NULL, 
	data_json VARCHAR NOT NULL, 
	created_at VARCHAR NOT NULL, 
	batch_seq INTEGER, 
	PRIMARY KEY (id)
);
CREATE TABLE enrolmentcode (
	code_hash VARCHAR NOT NULL, 
	node_id VARCHAR NOT NULL, 
	name VARCHAR NOT NULL, 
	kind VARCHAR NOT NULL, 
	parent VARCHAR, 
	created_at VARCHAR NOT NULL, 
	expires_at VARCHAR NOT NULL, 
	used_at VARCHAR, 
	PRIMARY KEY (code_hash)
);
CREATE TABLE heldbatch (
	node_id VARCHAR NOT NULL, 
	seq INTEGER NOT NULL, 
	raw BLOB NOT NULL, 
	received_at VARCHAR NOT NULL, 
	PRIMARY KEY (node_id, seq)
);
CREATE TABLE loginsession (
	token_hash VARCHAR NOT NULL, 
	username VARCHAR NOT NULL, 
	expires_at VARCHAR NOT NULL, 
	PRIMARY KEY (token_hash), 
	FOREIGN KEY(username) REFERENCES user (username)
);
CREATE TABLE material (
	application_id VARCHAR NOT NULL, 
	sha256 VARCHAR NOT NULL, 
	material VARCHAR NOT NULL, 
	size INTEGER NOT NULL, 
	media_type VARCHAR NOT NULL, 
	filename VARCHAR NOT NULL, 
	PRIMARY KEY (application_id, sha256, material)
);
CREATE TABLE node (
	id VARCHAR NOT NULL, 
	name VARCHAR NOT NULL, 
	kind VARCHAR NOT NULL, 
	parent VARCHAR, 
	public_key VARCHAR NOT NULL, 
	status VARCHAR NOT NULL, 
	enrolled_at VARCHAR NOT NULL, 
	up_seq INTEGER NOT NULL, 
	up_head VARCHAR NOT NULL, 
	last_seen_at VARCHAR, 
	down_seq INTEGER NOT NULL, 
	down_head VARCHAR NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE quarantine (
	id INTEGER NOT NULL, 
	node_id VARCHAR, 
	subject VARCHAR NOT NULL, 
	reason VARCHAR NOT NULL, 
	detail VARCHAR NOT NULL, 
	raw BLOB NOT NULL, 
	received_at VARCHAR NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE resendrequest (
	node_id VARCHAR NOT NULL, 
	from_seq INTEGER NOT NULL, 
	requested_at VARCHAR NOT NULL, 
	PRIMARY KEY (node_id)
);
CREATE TABLE uplinkbatch (
	node_id VARCHAR NOT NULL, 
	seq INTEGER NOT NULL, 
	hash VARCHAR NOT NULL, 
	raw BLOB NOT NULL, 
	received_at VARCHAR NOT NULL, 
	PRIMARY KEY (node_id, seq)
);
CREATE TABLE user (
	username VARCHAR NOT NULL, 
	display_name VARCHAR NOT NULL, 
	role VARCHAR NOT NULL, 
	department VARCHAR, 
	password_hash VARCHAR NOT NULL, 
	PRIMARY KEY (username), 
	FOREIGN KEY(department) REFERENCES department (code)
);
CREATE INDEX ix_application_department ON application (department);
CREATE INDEX ix_application_node_id ON application (node_id);
CREATE INDEX ix_application_receipt_no ON application (receipt_no);
CREATE INDEX ix_downlinkevent_batch_seq ON downlinkevent (batch_seq);
CREATE INDEX ix_downlinkevent_node_id ON downlinkevent (node_id);
