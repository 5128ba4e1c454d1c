-- hub schema version 19, made by the code of commit cae3ca1 (central.db.create_schema on a new SQLite file)
CREATE TABLE alert (
	id INTEGER NOT NULL, 
	kind VARCHAR NOT NULL, 
	node_id VARCHAR, 
	message VARCHAR NOT NULL, 
	created_at VARCHAR NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE announcement (
	id INTEGER NOT NULL, 
	title VARCHAR NOT NULL, 
	body VARCHAR NOT NULL, 
	published_at VARCHAR NOT NULL, 
	published_by VARCHAR NOT NULL, 
	withdrawn_at VARCHAR, 
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
	materials_checked VARCHAR NOT NULL, 
	supplement_json VARCHAR NOT NULL, 
	licences_json VARCHAR NOT NULL, 
	status VARCHAR NOT NULL, 
	submitted_at VARCHAR NOT NULL, 
	received_at VARCHAR NOT NULL, 
	accepted_at VARCHAR, 
	accepted_by VARCHAR, 
	decided_at VARCHAR, 
	decided_by VARCHAR, 
	decision_reason VARCHAR NOT NULL, 
	outcome VARCHAR NOT NULL, 
	decided_locally BOOLEAN NOT NULL, 
	delivered_at VARCHAR, 
	supplement_rounds INTEGER NOT NULL, 
	handover VARCHAR NOT NULL, 
	handed_to_applicant BOOLEAN NOT NULL, 
	form_json VARCHAR NOT NULL, 
	form_version INTEGER NOT NULL, 
	intake_problem VARCHAR NOT NULL, 
	stages_json VARCHAR NOT NULL, 
	stage INTEGER NOT NULL, 
	commitment BOOLEAN NOT NULL, 
	materials_at VARCHAR, 
	limit_days INTEGER NOT NULL, 
	statutory_days INTEGER NOT NULL, 
	deemed_accepted BOOLEAN NOT NULL, 
	stage_started_at VARCHAR, 
	sms_consent BOOLEAN NOT NULL, 
	home_visit VARCHAR NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(node_id) REFERENCES node (id)
);
CREATE TABLE appointment (
	id VARCHAR NOT NULL, 
	node_id VARCHAR NOT NULL, 
	window VARCHAR NOT NULL, 
	day VARCHAR NOT NULL, 
	time VARCHAR NOT NULL, 
	item_code VARCHAR NOT NULL, 
	name VARCHAR NOT NULL, 
	phone VARCHAR NOT NULL, 
	source VARCHAR NOT NULL, 
	status VARCHAR NOT NULL, 
	token VARCHAR NOT NULL, 
	place INTEGER, 
	application_id VARCHAR, 
	created_at VARCHAR NOT NULL, 
	updated_at VARCHAR NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (node_id, window, day, time, place)
);
CREATE TABLE approvaltask (
	application_id VARCHAR NOT NULL, 
	department VARCHAR NOT NULL, 
	stage INTEGER DEFAULT '0' NOT NULL, 
	status VARCHAR NOT NULL, 
	decided_at VARCHAR, 
	decided_by VARCHAR, 
	reason VARCHAR NOT NULL, 
	PRIMARY KEY (application_id, department), 
	FOREIGN KEY(application_id) REFERENCES application (id)
);
CREATE TABLE auditentry (
	id INTEGER NOT NULL, 
	at VARCHAR NOT NULL, 
	actor VARCHAR NOT NULL, 
	action VARCHAR NOT NULL, 
	target VARCHAR NOT NULL, 
	detail VARCHAR NOT NULL, 
	PRIMARY KEY (id)
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
	node_id VARCHAR NOT NULL, 
	"offset" INTEGER NOT NULL, 
	length INTEGER NOT NULL, 
	PRIMARY KEY (sha256, node_id, "offset")
);
CREATE TABLE blobupload (
	sha256 VARCHAR NOT NULL, 
	node_id VARCHAR NOT NULL, 
	size INTEGER NOT NULL, 
	received_bytes INTEGER NOT NULL, 
	updated_at VARCHAR NOT NULL, 
	PRIMARY KEY (sha256, node_id)
);
CREATE TABLE calendarday (
	day VARCHAR NOT NULL, 
	workday BOOLEAN NOT NULL, 
	note VARCHAR NOT NULL, 
	PRIMARY KEY (day)
);
CREATE TABLE card (
	id INTEGER NOT NULL, 
	application_id VARCHAR NOT NULL, 
	department VARCHAR NOT NULL, 
	clock VARCHAR NOT NULL, 
	stage INTEGER NOT NULL, 
	colour VARCHAR NOT NULL, 
	due VARCHAR NOT NULL, 
	rule VARCHAR NOT NULL, 
	issued_at VARCHAR NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (application_id, clock, stage, department, colour), 
	FOREIGN KEY(application_id) REFERENCES application (id)
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
CREATE TABLE catalogversion (
	version INTEGER NOT NULL, 
	items_json VARCHAR NOT NULL, 
	published_at VARCHAR NOT NULL, 
	published_by VARCHAR NOT NULL, 
	note VARCHAR NOT NULL, 
	PRIMARY KEY (version)
);
CREATE TABLE clockpause (
	id INTEGER NOT NULL, 
	application_id VARCHAR NOT NULL, 
	kind VARCHAR NOT NULL, 
	reason VARCHAR NOT NULL, 
	started_at VARCHAR NOT NULL, 
	started_by VARCHAR NOT NULL, 
	ended_at VARCHAR, 
	ended_by VARCHAR, 
	PRIMARY KEY (id), 
	FOREIGN KEY(application_id) REFERENCES application (id)
);
CREATE TABLE complaint (
	complaint_id VARCHAR NOT NULL, 
	node_id VARCHAR NOT NULL, 
	application_id VARCHAR, 
	contact VARCHAR NOT NULL, 
	text VARCHAR NOT NULL, 
	filed_at VARCHAR NOT NULL, 
	received_at VARCHAR, 
	department VARCHAR, 
	first_answer VARCHAR NOT NULL, 
	first_answered_at VARCHAR, 
	first_answered_by VARCHAR, 
	answered_at VARCHAR, 
	answered_by VARCHAR, 
	answer VARCHAR NOT NULL, 
	escalations INTEGER NOT NULL, 
	escalated_at VARCHAR, 
	PRIMARY KEY (complaint_id)
);
CREATE TABLE consultation (
	id INTEGER NOT NULL, 
	token VARCHAR NOT NULL, 
	item_code VARCHAR NOT NULL, 
	department VARCHAR, 
	question VARCHAR NOT NULL, 
	phone VARCHAR NOT NULL, 
	asked_at VARCHAR NOT NULL, 
	due_on VARCHAR NOT NULL, 
	answer VARCHAR NOT NULL, 
	answered_at VARCHAR, 
	answered_by VARCHAR, 
	late_alerted BOOLEAN NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (token)
);
CREATE TABLE counter (
	kind VARCHAR NOT NULL, 
	year INTEGER NOT NULL, 
	last INTEGER NOT NULL, 
	PRIMARY KEY (kind, year)
);
CREATE TABLE dailyclose (
	close_id VARCHAR NOT NULL, 
	node_id VARCHAR NOT NULL, 
	agent VARCHAR NOT NULL, 
	business_date VARCHAR NOT NULL, 
	totals_json VARCHAR NOT NULL, 
	cash_expected_fen INTEGER NOT NULL, 
	cash_counted_fen INTEGER NOT NULL, 
	discrepancy_fen INTEGER NOT NULL, 
	note VARCHAR NOT NULL, 
	remittance_id VARCHAR, 
	PRIMARY KEY (close_id)
);
CREATE TABLE delegation (
	sha256 VARCHAR NOT NULL, 
	node_id VARCHAR NOT NULL, 
	public_key VARCHAR NOT NULL, 
	items_json VARCHAR NOT NULL, 
	valid_from VARCHAR NOT NULL, 
	valid_until VARCHAR NOT NULL, 
	certificate VARCHAR NOT NULL, 
	issued_at VARCHAR NOT NULL, 
	PRIMARY KEY (sha256)
);
CREATE TABLE department (
	code VARCHAR NOT NULL, 
	name VARCHAR NOT NULL, 
	integration VARCHAR NOT NULL, 
	PRIMARY KEY (code)
);
CREATE TABLE departmentevent (
	id VARCHAR NOT NULL, 
	department VARCHAR NOT NULL, 
	event VARCHAR NOT NULL, 
	application_id VARCHAR NOT NULL, 
	payload_json VARCHAR NOT NULL, 
	created_at VARCHAR NOT NULL, 
	published_at VARCHAR, 
	PRIMARY KEY (id)
);
CREATE TABLE document (
	id INTEGER NOT NULL, 
	application_id VARCHAR NOT NULL, 
	kind VARCHAR NOT NULL, 
	number VARCHAR NOT NULL, 
	title VARCHAR NOT NULL, 
	issued_at VARCHAR NOT NULL, 
	text VARCHAR NOT NULL, 
	code VARCHAR NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(application_id) REFERENCES application (id), 
	UNIQUE (number)
);
CREATE TABLE documentdue (
	id INTEGER NOT NULL, 
	application_id VARCHAR NOT NULL, 
	kind VARCHAR NOT NULL, 
	context_json VARCHAR NOT NULL, 
	created_at VARCHAR NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(application_id) REFERENCES application (id)
);
CREATE TABLE downlinkbatch (
	node_id VARCHAR NOT NULL, 
	seq INTEGER NOT NULL, 
	hash VARCHAR NOT NULL, 
	raw BLOB NOT NULL, 
	created_at VARCHAR NOT NULL, 
	published_at VARCHAR, 
	resends INTEGER NOT NULL, 
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
CREATE TABLE downlinkreturn (
	node_id VARCHAR NOT NULL, 
	sha256 VARCHAR NOT NULL, 
	seq INTEGER NOT NULL, 
	joins_at INTEGER NOT NULL, 
	requested_at VARCHAR NOT NULL, 
	returned_at VARCHAR, 
	PRIMARY KEY (node_id, sha256)
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
	replacement BOOLEAN NOT NULL, 
	PRIMARY KEY (code_hash)
);
CREATE TABLE evaluation (
	application_id VARCHAR NOT NULL, 
	node_id VARCHAR NOT NULL, 
	level INTEGER NOT NULL, 
	comment VARCHAR NOT NULL, 
	given_at VARCHAR NOT NULL, 
	followed_up_at VARCHAR, 
	followed_up_by VARCHAR, 
	follow_up VARCHAR NOT NULL, 
	source VARCHAR NOT NULL, 
	follow_up_due VARCHAR, 
	PRIMARY KEY (application_id)
);
CREATE TABLE faqentry (
	id INTEGER NOT NULL, 
	question VARCHAR NOT NULL, 
	answer VARCHAR NOT NULL, 
	item_code VARCHAR NOT NULL, 
	updated_at VARCHAR NOT NULL, 
	updated_by VARCHAR NOT NULL, 
	withdrawn_at VARCHAR, 
	PRIMARY KEY (id)
);
CREATE TABLE feereceipt (
	receipt_no VARCHAR NOT NULL, 
	node_id VARCHAR NOT NULL, 
	application_id VARCHAR, 
	amount_fen INTEGER NOT NULL, 
	method VARCHAR NOT NULL, 
	reference VARCHAR NOT NULL, 
	agent VARCHAR NOT NULL, 
	collected_at VARCHAR NOT NULL, 
	status VARCHAR NOT NULL, 
	refunded_fen INTEGER NOT NULL, 
	PRIMARY KEY (receipt_no)
);
CREATE TABLE heldbatch (
	node_id VARCHAR NOT NULL, 
	seq INTEGER NOT NULL, 
	raw BLOB NOT NULL, 
	received_at VARCHAR NOT NULL, 
	PRIMARY KEY (node_id, seq)
);
CREATE TABLE licence (
	id INTEGER NOT NULL, 
	licence_no VARCHAR NOT NULL, 
	holder_id VARCHAR NOT NULL, 
	holder_name VARCHAR NOT NULL, 
	item_code VARCHAR NOT NULL, 
	application_id VARCHAR NOT NULL, 
	issued_at VARCHAR NOT NULL, 
	text VARCHAR NOT NULL, 
	revoked_at VARCHAR, 
	PRIMARY KEY (id)
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
CREATE TABLE natscredential (
	nkey VARCHAR NOT NULL, 
	node_id VARCHAR, 
	department VARCHAR, 
	created_at VARCHAR NOT NULL, 
	valid_until VARCHAR, 
	PRIMARY KEY (nkey)
);
CREATE TABLE node (
	id VARCHAR NOT NULL, 
	name VARCHAR NOT NULL, 
	kind VARCHAR NOT NULL, 
	parent VARCHAR, 
	public_key VARCHAR NOT NULL, 
	status VARCHAR NOT NULL, 
	enrolled_at VARCHAR NOT NULL, 
	revoked_at VARCHAR, 
	up_seq INTEGER NOT NULL, 
	up_head VARCHAR NOT NULL, 
	last_seen_at VARCHAR, 
	down_seq INTEGER NOT NULL, 
	down_head VARCHAR NOT NULL, 
	down_resync BOOLEAN NOT NULL, 
	heartbeat_at VARCHAR, 
	app_version VARCHAR NOT NULL, 
	catalog_version INTEGER NOT NULL, 
	outbox_depth INTEGER NOT NULL, 
	clock_offset_s INTEGER, 
	heartbeat_interval_s INTEGER NOT NULL, 
	link_kbit_per_s INTEGER NOT NULL, 
	link_rtt_ms INTEGER NOT NULL, 
	bytes_up_today INTEGER NOT NULL, 
	bytes_down_today INTEGER NOT NULL, 
	files_waiting INTEGER NOT NULL, 
	file_bytes_waiting INTEGER NOT NULL, 
	set_aside INTEGER NOT NULL, 
	needs_upgrade VARCHAR NOT NULL, 
	compression VARCHAR NOT NULL, 
	metered BOOLEAN NOT NULL, 
	metered_hours VARCHAR NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE nodeheartbeat (
	node_id VARCHAR NOT NULL, 
	at VARCHAR NOT NULL, 
	outbox_depth INTEGER NOT NULL, 
	clock_offset_s INTEGER NOT NULL, 
	PRIMARY KEY (node_id, at)
);
CREATE TABLE nodekey (
	node_id VARCHAR NOT NULL, 
	from_seq INTEGER NOT NULL, 
	public_key VARCHAR NOT NULL, 
	enrolled_at VARCHAR NOT NULL, 
	PRIMARY KEY (node_id, from_seq)
);
CREATE TABLE onetimenotice (
	notice_no VARCHAR NOT NULL, 
	node_id VARCHAR NOT NULL, 
	item_code VARCHAR NOT NULL, 
	item_name VARCHAR NOT NULL, 
	applicant_name VARCHAR NOT NULL, 
	applicant_id_number VARCHAR NOT NULL, 
	missing_json VARCHAR NOT NULL, 
	agent VARCHAR NOT NULL, 
	given_at VARCHAR NOT NULL, 
	PRIMARY KEY (notice_no), 
	FOREIGN KEY(node_id) REFERENCES node (id)
);
CREATE TABLE originalrequest (
	sha256 VARCHAR NOT NULL, 
	node_id VARCHAR NOT NULL, 
	application_id VARCHAR NOT NULL, 
	material VARCHAR NOT NULL, 
	requested_by VARCHAR NOT NULL, 
	requested_at VARCHAR NOT NULL, 
	state VARCHAR NOT NULL, 
	answered_at VARCHAR, 
	PRIMARY KEY (sha256)
);
CREATE TABLE phonecode (
	phone VARCHAR NOT NULL, 
	code_hash VARCHAR NOT NULL, 
	sent_at VARCHAR NOT NULL, 
	expires_at VARCHAR NOT NULL, 
	attempts INTEGER NOT NULL, 
	PRIMARY KEY (phone)
);
CREATE TABLE pointschedule (
	node_id VARCHAR NOT NULL, 
	windows_json VARCHAR NOT NULL, 
	days_ahead INTEGER NOT NULL, 
	updated_at VARCHAR NOT NULL, 
	PRIMARY KEY (node_id)
);
CREATE TABLE postcheck (
	application_id VARCHAR NOT NULL, 
	department VARCHAR NOT NULL, 
	replaced_json VARCHAR NOT NULL, 
	due_at VARCHAR NOT NULL, 
	state VARCHAR NOT NULL, 
	checked_by VARCHAR, 
	checked_at VARCHAR, 
	reason VARCHAR NOT NULL, 
	PRIMARY KEY (application_id)
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
CREATE TABLE remittance (
	remittance_id VARCHAR NOT NULL, 
	node_id VARCHAR NOT NULL, 
	amount_fen INTEGER NOT NULL, 
	close_ids_json VARCHAR NOT NULL, 
	bank_reference VARCHAR NOT NULL, 
	agent VARCHAR NOT NULL, 
	remitted_at VARCHAR NOT NULL, 
	PRIMARY KEY (remittance_id)
);
CREATE TABLE resendrequest (
	node_id VARCHAR NOT NULL, 
	from_seq INTEGER NOT NULL, 
	requested_at VARCHAR NOT NULL, 
	PRIMARY KEY (node_id)
);
CREATE TABLE restoretoken (
	token_hash VARCHAR NOT NULL, 
	node_id VARCHAR NOT NULL, 
	expires_at VARCHAR NOT NULL, 
	PRIMARY KEY (token_hash)
);
CREATE TABLE schemaversion (
	id INTEGER NOT NULL, 
	version INTEGER NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE sharedmaterial (
	application_id VARCHAR NOT NULL, 
	material VARCHAR NOT NULL, 
	found BOOLEAN NOT NULL, 
	source VARCHAR NOT NULL, 
	reference VARCHAR NOT NULL, 
	fields_json VARCHAR NOT NULL, 
	fetched_at VARCHAR NOT NULL, 
	PRIMARY KEY (application_id, material)
);
CREATE TABLE smsmessage (
	id INTEGER NOT NULL, 
	"key" VARCHAR NOT NULL, 
	application_id VARCHAR, 
	node_id VARCHAR, 
	step VARCHAR NOT NULL, 
	phone VARCHAR NOT NULL, 
	params_json VARCHAR NOT NULL, 
	text VARCHAR NOT NULL, 
	status VARCHAR NOT NULL, 
	after_event VARCHAR, 
	attempts INTEGER NOT NULL, 
	next_attempt_at VARCHAR NOT NULL, 
	attempted_at VARCHAR, 
	provider_id VARCHAR NOT NULL, 
	error VARCHAR NOT NULL, 
	created_at VARCHAR NOT NULL, 
	sent_at VARCHAR, 
	delivered_at VARCHAR, 
	PRIMARY KEY (id), 
	UNIQUE ("key")
);
CREATE TABLE supervisionorder (
	id INTEGER NOT NULL, 
	number VARCHAR NOT NULL, 
	card_id INTEGER NOT NULL, 
	application_id VARCHAR NOT NULL, 
	department VARCHAR NOT NULL, 
	issued_at VARCHAR NOT NULL, 
	reply_due VARCHAR NOT NULL, 
	reply VARCHAR NOT NULL, 
	replied_at VARCHAR, 
	replied_by VARCHAR, 
	escalations INTEGER NOT NULL, 
	escalated_at VARCHAR, 
	PRIMARY KEY (id), 
	UNIQUE (card_id), 
	FOREIGN KEY(card_id) REFERENCES card (id), 
	FOREIGN KEY(application_id) REFERENCES application (id)
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
	disabled_at VARCHAR, 
	PRIMARY KEY (username), 
	FOREIGN KEY(department) REFERENCES department (code)
);
CREATE TABLE windowconsultation (
	id VARCHAR NOT NULL, 
	node_id VARCHAR NOT NULL, 
	item_code VARCHAR NOT NULL, 
	question VARCHAR NOT NULL, 
	answer VARCHAR NOT NULL, 
	case_followed BOOLEAN NOT NULL, 
	at VARCHAR NOT NULL, 
	agent VARCHAR NOT NULL, 
	PRIMARY KEY (id)
);
CREATE INDEX ix_application_commitment ON application (commitment);
CREATE INDEX ix_application_department ON application (department);
CREATE INDEX ix_application_node_id ON application (node_id);
CREATE INDEX ix_application_receipt_no ON application (receipt_no);
CREATE INDEX ix_application_status ON application (status);
CREATE INDEX ix_appointment_day ON appointment (day);
CREATE INDEX ix_appointment_node_id ON appointment (node_id);
CREATE INDEX ix_appointment_token ON appointment (token);
CREATE INDEX ix_approvaltask_department ON approvaltask (department);
CREATE INDEX ix_auditentry_at ON auditentry (at);
CREATE INDEX ix_card_application_id ON card (application_id);
CREATE INDEX ix_card_department ON card (department);
CREATE INDEX ix_card_issued_at ON card (issued_at);
CREATE INDEX ix_clockpause_application_id ON clockpause (application_id);
CREATE INDEX ix_complaint_department ON complaint (department);
CREATE INDEX ix_complaint_node_id ON complaint (node_id);
CREATE INDEX ix_consultation_answered_at ON consultation (answered_at);
CREATE INDEX ix_consultation_department ON consultation (department);
CREATE INDEX ix_dailyclose_node_id ON dailyclose (node_id);
CREATE INDEX ix_delegation_node_id ON delegation (node_id);
CREATE INDEX ix_departmentevent_department ON departmentevent (department);
CREATE INDEX ix_departmentevent_published_at ON departmentevent (published_at);
CREATE INDEX ix_document_application_id ON document (application_id);
CREATE INDEX ix_document_code ON document (code);
CREATE INDEX ix_documentdue_application_id ON documentdue (application_id);
CREATE INDEX ix_downlinkevent_batch_seq ON downlinkevent (batch_seq);
CREATE INDEX ix_downlinkevent_node_id ON downlinkevent (node_id);
CREATE INDEX ix_evaluation_node_id ON evaluation (node_id);
CREATE INDEX ix_feereceipt_node_id ON feereceipt (node_id);
CREATE INDEX ix_licence_application_id ON licence (application_id);
CREATE INDEX ix_licence_holder_id ON licence (holder_id);
CREATE INDEX ix_licence_licence_no ON licence (licence_no);
CREATE INDEX ix_natscredential_node_id ON natscredential (node_id);
CREATE INDEX ix_onetimenotice_node_id ON onetimenotice (node_id);
CREATE INDEX ix_originalrequest_node_id ON originalrequest (node_id);
CREATE INDEX ix_postcheck_department ON postcheck (department);
CREATE INDEX ix_remittance_node_id ON remittance (node_id);
CREATE INDEX ix_smsmessage_application_id ON smsmessage (application_id);
CREATE INDEX ix_smsmessage_phone ON smsmessage (phone);
CREATE INDEX ix_smsmessage_status ON smsmessage (status);
CREATE INDEX ix_supervisionorder_application_id ON supervisionorder (application_id);
CREATE INDEX ix_supervisionorder_department ON supervisionorder (department);
CREATE INDEX ix_windowconsultation_at ON windowconsultation (at);
CREATE INDEX ix_windowconsultation_node_id ON windowconsultation (node_id);
INSERT INTO schemaversion (id, version) VALUES (1, 19);
